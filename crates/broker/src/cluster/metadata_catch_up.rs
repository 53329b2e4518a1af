//! [`MetadataCatchUp`]: whether this broker has caught up with the metadata log (`/readyz`).
//!
//! Kafka's broker is caught up once the metadata it applied reaches the controller's high
//! watermark as of its registration (KIP-631: each heartbeat carries the broker's
//! `currentMetadataOffset`, the controller answers `isCaughtUp`). Sluice's controller tells in
//! every heartbeat reply the offset of the last metadata entry committed as it knew it then;
//! the broker keeps the two newest and is caught up while the offset it applied reaches the
//! older one (the only one after the first reply, when that is the high watermark just after
//! registration), and its registration's own offset.
//!
//! Not the newest reply's offset: the commit it names reaches this node's copy of the metadata
//! log with the leader's next append, so a healthy broker would fall short of it for a moment
//! after every heartbeat while the metadata changes. The older one is a heartbeat interval
//! old: a broker that stops applying metadata, or trails the log by more than that, is not
//! ready within two heartbeats.

/// The committed offsets of the two newest heartbeat replies. Sans I/O: the membership feeds
/// it replies, readiness asks it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MetadataCatchUp {
    newest: Option<u64>,
    /// The reply before the newest; the newest while there was only one.
    /// invariant: `None` exactly when `newest` is.
    older: Option<u64>,
}

impl MetadataCatchUp {
    /// A heartbeat reply said the metadata log is committed up to `committed_offset`.
    pub fn heard(&mut self, committed_offset: u64) {
        self.older = Some(self.newest.unwrap_or(committed_offset));
        self.newest = Some(committed_offset);
    }

    /// The offset the broker must have applied (at least `registration_offset`); `None`
    /// before any reply.
    pub fn target(&self, registration_offset: u64) -> Option<u64> {
        self.older.map(|older| older.max(registration_offset))
    }

    /// `Ok` when the metadata offset `applied` is caught up; otherwise why not.
    pub fn check(&self, applied: u64, registration_offset: u64) -> Result<(), String> {
        match self.target(registration_offset) {
            None => Err(
                "catching up with metadata: no heartbeat reply has told how far the \
                 metadata log is committed yet"
                    .into(),
            ),
            Some(target) if applied < target => Err(format!(
                "catching up with metadata: applied {applied} of {target} (the metadata \
                 log's committed offset as the controller told it)"
            )),
            Some(_) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_reply_must_be_reached_then_the_reply_before_the_newest() {
        let mut c = MetadataCatchUp::default();
        assert!(c.check(100, 5).unwrap_err().contains("no heartbeat reply"));
        // Registered at 5; the first reply says 8 is committed: 8 is the target.
        c.heard(8);
        assert_eq!(c.target(5), Some(8));
        assert_eq!(
            c.check(7, 5).unwrap_err(),
            "catching up with metadata: applied 7 of 8 (the metadata log's committed offset \
             as the controller told it)"
        );
        assert_eq!(c.check(8, 5), Ok(()));
        // The log moves on: the newest reply is not yet required, the one before it is.
        c.heard(20);
        assert_eq!(c.target(5), Some(8));
        assert_eq!(c.check(8, 5), Ok(()));
        c.heard(30);
        assert_eq!(c.target(5), Some(20));
        assert!(c.check(19, 5).unwrap_err().contains("applied 19 of 20"));
        // A broker that stopped applying at 25 falls behind within two heartbeats.
        assert_eq!(c.check(25, 5), Ok(()));
        c.heard(40);
        assert!(c.check(25, 5).unwrap_err().contains("applied 25 of 30"));
    }

    #[test]
    fn the_registration_is_a_floor() {
        let mut c = MetadataCatchUp::default();
        // A controller just elected may not know the latest commits of the leader before it.
        c.heard(0);
        assert_eq!(c.target(12), Some(12));
        assert!(c.check(11, 12).unwrap_err().contains("applied 11 of 12"));
        assert_eq!(c.check(12, 12), Ok(()));
    }
}
