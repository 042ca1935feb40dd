//! `rate_limits` (migration V12): fixed-window counters shared by every host
//! instance (`crate::shared_limits`).

/// Grants up to `batch` more requests of `key` in the window starting at
/// `window_start` (ms), never past `max` in total: how many were granted.
pub async fn reserve<C: deadpool_postgres::GenericClient>(
    client: &C,
    key: &str,
    window_start: i64,
    batch: i32,
    max: i32,
) -> Result<u32, tokio_postgres::Error> {
    let stmt = client
        .prepare_cached(
            "INSERT INTO rate_limits AS r (key, window_start, granted, last_grant)
             VALUES ($1::text, $2::bigint, LEAST($3::integer, $4::integer), LEAST($3::integer, $4::integer))
             ON CONFLICT (key, window_start) DO UPDATE
                SET granted = r.granted + LEAST($3, $4 - r.granted),
                    last_grant = LEAST($3, $4 - r.granted)
              WHERE r.granted < $4
             RETURNING last_grant",
        )
        .await?;
    let row = client
        .query_opt(&stmt, &[&key, &window_start, &batch, &max])
        .await?;
    Ok(row.map_or(0, |r| u32::try_from(r.get::<_, i32>(0)).unwrap_or(0)))
}

/// Drops windows that started before `before_ms`.
pub async fn prune<C: deadpool_postgres::GenericClient>(
    client: &C,
    before_ms: i64,
) -> Result<u64, tokio_postgres::Error> {
    client
        .execute(
            "DELETE FROM rate_limits WHERE window_start < $1",
            &[&before_ms],
        )
        .await
}
