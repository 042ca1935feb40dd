//! The daily snapshot scheduler's query (migration V16).

use uuid::Uuid;

/// An account due for its daily snapshot: where to compute it, and its
/// newest result (to read the signed policy from).
#[derive(Debug)]
pub struct Candidate {
    /// The tenant of the session.
    pub tenant: Uuid,
    /// A live session of the account (the one of its newest result).
    pub session: Uuid,
    /// The COSE_Sign1 bytes of the account's newest result.
    pub cose: Vec<u8>,
}

/// At most `limit` accounts with a live session and no result since
/// `day_start` (through the SECURITY DEFINER function: the scheduler has no
/// tenant).
pub async fn daily_candidates<C: tokio_postgres::GenericClient + Sync>(
    db: &C,
    day_start: std::time::SystemTime,
    limit: i32,
) -> Result<Vec<Candidate>, tokio_postgres::Error> {
    let rows = db
        .query(
            "SELECT tenant_id, session_id, cose FROM strongroom_daily_candidates($1, $2)",
            &[&day_start, &limit],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| Candidate {
            tenant: r.get(0),
            session: r.get(1),
            cose: r.get(2),
        })
        .collect())
}
