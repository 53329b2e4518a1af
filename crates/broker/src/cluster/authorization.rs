//! [`Authorization`]: this broker's view of the cluster's ACLs. With `authorizer.class.name` set
//! it holds an [`Authorizer`] built from the bindings of the newest metadata image (rebuilt only
//! when they changed, see [`MetadataImage::acls_offset`]) and a generation number that moves
//! with every rebuild, so that connections can cache decisions and drop them when the ACLs
//! change. Without it every operation is allowed, as in Kafka without an authorizer.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use sluice_controller::MetadataImage;
use sluice_security::acl::{Authorizer, AuthorizerSettings};
use sluice_security::audit::AuditLog;

pub struct Authorization {
    enabled: bool,
    settings: AuthorizerSettings,
    /// The authorizer and the image's `acls_offset` it was built from.
    current: RwLock<(u64, Arc<Authorizer>)>,
    /// Moves with every rebuild; 0 before the first.
    generation: AtomicU64,
    /// Where authentications and decisions are recorded (`audit.*`).
    audit: AuditLog,
}

impl Authorization {
    /// No authorizer: everything is allowed.
    pub fn disabled() -> Authorization {
        Authorization::new(false, AuthorizerSettings::default(), AuditLog::disabled())
    }

    pub fn new(enabled: bool, settings: AuthorizerSettings, audit: AuditLog) -> Authorization {
        let empty = Arc::new(Authorizer::new(Vec::new(), settings.clone()));
        Authorization {
            enabled,
            settings,
            current: RwLock::new((0, empty)),
            generation: AtomicU64::new(0),
            audit,
        }
    }

    /// The audit log.
    pub fn audit(&self) -> &AuditLog {
        &self.audit
    }

    /// Whether ACLs are enforced.
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// Rebuilds the authorizer when `image` holds other bindings than the current one.
    pub fn update(&self, image: &MetadataImage) {
        if !self.enabled {
            return;
        }
        let offset = image.acls_offset();
        if self.read().0 == offset {
            return;
        }
        let authorizer = Arc::new(Authorizer::new(
            image.acls().cloned().collect::<Vec<_>>(),
            self.settings.clone(),
        ));
        let mut current = self.current.write().unwrap_or_else(|p| p.into_inner());
        // Images are applied in order; an older one never replaces a newer authorizer.
        if offset > current.0 {
            *current = (offset, authorizer);
            self.generation.fetch_add(1, Ordering::AcqRel);
            tracing::info!(
                bindings = current.1.len(),
                "ACLs changed at metadata offset {offset}"
            );
        }
    }

    /// The current authorizer and its generation.
    pub fn snapshot(&self) -> (u64, Arc<Authorizer>) {
        // Generation first: a rebuild between the two reads makes the caller's cache stale by
        // one generation, never newer than what it holds.
        let generation = self.generation.load(Ordering::Acquire);
        (generation, self.read().1.clone())
    }

    /// The generation of the current authorizer.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, (u64, Arc<Authorizer>)> {
        self.current.read().unwrap_or_else(|p| p.into_inner())
    }
}
