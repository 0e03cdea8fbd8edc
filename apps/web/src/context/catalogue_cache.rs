//! Each trust's catalogue, kept in memory.
//!
//! Browsing, filtering and paging the catalogue read the same few thousand published courses on
//! every request; they change a few times a day. So each server keeps each trust's
//! [`Listing`] (courses, topics, programmes) and the rankings of recent searches, keyed by the
//! catalogue's change counters ([`Generations`]: the trust's and the national catalogue's). Every
//! change to what a catalogue lists bumps its counter in the same transaction, and the sign-in
//! check reads the counters with the rest of the signed-in state, so a change made through any
//! server shows on every server at the next request, and a kept copy is never stale. Entries not
//! used for [`IDLE`] are dropped; memory is bounded by the number of courses kept.

use moka::sync::Cache;
use std::sync::Arc;
use std::time::Duration;
use trellis_db::catalogue::{self as cat, Generations, Listing};
use trellis_db::{DbError, TenantTx};
use trellis_domain::TenantId;
use uuid::Uuid;

/// How long an unused listing or ranking is kept.
pub const IDLE: Duration = Duration::from_secs(600);
/// The most courses kept across all listings (about 1 KB each).
const MAX_COURSES: u64 = 200_000;
/// The most search rankings kept.
const MAX_SEARCHES: u64 = 20_000;

type ListingKey = (TenantId, Generations);
type SearchKey = (TenantId, Generations, String);

/// Listings and search rankings per trust and catalogue generation.
pub struct CatalogueCache {
    listings: Cache<ListingKey, Arc<Listing>>,
    /// A search's ranked matches, as positions in the listing of the same generations.
    searches: Cache<SearchKey, Arc<Vec<u32>>>,
}

impl Default for CatalogueCache {
    fn default() -> Self {
        Self {
            listings: Cache::builder()
                .max_capacity(MAX_COURSES)
                .weigher(|_, l: &Arc<Listing>| u32::try_from(l.len()).unwrap_or(u32::MAX).max(1))
                .time_to_idle(IDLE)
                .build(),
            searches: Cache::builder().max_capacity(MAX_SEARCHES).time_to_idle(IDLE).build(),
        }
    }
}

/// Words of a search as kept: trimmed, lower case, single spaces (the ranking does not change).
fn normalise(words: &str) -> String {
    words.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

impl CatalogueCache {
    /// The trust's listing at these generations: kept, or read in `tx` and kept.
    pub async fn listing(&self, tx: &TenantTx, generations: Generations) -> Result<Arc<Listing>, DbError> {
        let key = (tx.tenant(), generations);
        if let Some(l) = self.listings.get(&key) {
            return Ok(l);
        }
        let l = Arc::new(cat::listing(tx).await?);
        self.listings.insert(key, l.clone());
        Ok(l)
    }

    /// The ranked matches of the words at these generations, as positions in `listing` (which must
    /// be the listing of the same generations): kept, or searched in `tx` and kept.
    pub async fn ranked(
        &self,
        tx: &TenantTx,
        generations: Generations,
        words: &str,
        listing: &Listing,
    ) -> Result<Arc<Vec<u32>>, DbError> {
        let key = (tx.tenant(), generations, normalise(words));
        if let Some(r) = self.searches.get(&key) {
            return Ok(r);
        }
        let ids: Vec<Uuid> = cat::ranked(tx, &key.2).await?;
        let r = Arc::new(listing.positions(&ids));
        self.searches.insert(key, r.clone());
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn searches_differing_only_in_spacing_and_case_share_a_ranking() {
        assert_eq!(normalise("  Patient   SAFETY "), "patient safety");
        assert_eq!(normalise(""), "");
    }
}
