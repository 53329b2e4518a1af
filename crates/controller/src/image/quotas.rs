//! Client quotas (KIP-546 AlterClientQuotas/DescribeClientQuotas): per user, client id or both
//! (and their defaults), kept in the metadata log so every broker enforces the same limits and
//! they survive restarts. The rules (valid keys and values, precedence) are
//! `sluice_security::quota`'s; the image only stores the result.

use sluice_security::quota::QuotaStore;

use super::MetadataImage;

impl MetadataImage {
    /// The client quotas.
    pub fn quotas(&self) -> &QuotaStore {
        &self.quotas
    }

    /// Log index of the last change to the client quotas (0: none yet), so that brokers
    /// reload them only when they changed.
    pub fn quotas_offset(&self) -> u64 {
        self.quotas_offset
    }
}
