//! What a hostile operator does to its own database, for the tests that
//! play the attack: nothing here is a host feature.

/// The hostile host's rollback of the transparency log: the log's tables as they were at `size`
/// (leaves, heads and the state row, cosigned checkpoint included).
pub async fn roll_back_log(db: &tokio_postgres::Client, size: i64) {
    let leaf: Vec<u8> = db
        .query_one(
            "SELECT leaf_hash FROM transparency_log WHERE leaf_index = 0",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(size, 1, "the frontier below is that of one leaf");
    db.batch_execute("BEGIN").await.unwrap();
    db.execute(
        "DELETE FROM transparency_log WHERE leaf_index >= $1",
        &[&size],
    )
    .await
    .unwrap();
    db.execute("DELETE FROM tree_heads WHERE tree_size > $1", &[&size])
        .await
        .unwrap();
    // The tiles too (one leaf: level-0 tile 0 holds its hash, nothing else).
    db.execute(
        "DELETE FROM transparency_tiles WHERE NOT (level = 0 AND tile_index = 0)",
        &[],
    )
    .await
    .unwrap();
    db.execute(
        "UPDATE transparency_tiles SET hashes = $1 WHERE level = 0 AND tile_index = 0",
        &[&leaf],
    )
    .await
    .unwrap();
    db.execute(
        "UPDATE transparency_state SET tree_size = $1, frontier = $2, \
         head = (SELECT cose FROM tree_heads WHERE tree_size = $1), \
         checkpoint = (SELECT checkpoint FROM tree_heads WHERE tree_size = $1), \
         cosigned = true WHERE id",
        &[&size, &leaf],
    )
    .await
    .unwrap();
    db.batch_execute("COMMIT").await.unwrap();
}
