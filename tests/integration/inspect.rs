//! `barkeep inspect`: the listing and its JSON fields, and `--verify` on damaged files.

use arrow::array::{ArrayRef, RecordBatch, UInt64Array};
use parquet::arrow::ArrowWriter;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use serde_json::{Value, json};

use crate::support::{TestEnv, parse_csv, rfc3339};

fn inspect_json(env: &TestEnv, args: &str) -> Vec<Value> {
    env.run(&format!("inspect --format json {args}"))
        .success()
        .json()
}

#[test]
fn json_describes_every_series() {
    let env = TestEnv::new();
    let bars = parse_csv(&env.fetch_csv("AAPL --start 2024-01-01 --end 2024-03-31"));
    let btc = env.run("fetch -q BTC/USD -t 1Hour --start 2024-06-10 --end 2024-06-11");
    btc.success();
    let rows = inspect_json(&env, "");
    assert_eq!(rows.len(), 2);
    let aapl = &rows[0];
    let path = env.series_path("stocks/sip/1Day/AAPL.parquet");
    assert_eq!(aapl["symbol"], "AAPL");
    assert_eq!(aapl["asset_class"], "stocks");
    assert_eq!(aapl["feed"], "sip");
    assert_eq!(aapl["timeframe"], "1Day");
    assert_eq!(aapl["path"], path.display().to_string());
    assert_eq!(aapl["rows"].as_u64().unwrap() as usize, bars.len());
    assert_eq!(aapl["first"], "2024-01-02T05:00:00Z");
    assert_eq!(aapl["last"], rfc3339(bars.last().unwrap().t));
    let quarter = json!([["2024-01-01T05:00:00Z", "2024-04-01T04:00:00Z"]]);
    assert_eq!(aapl["coverage"], quarter);
    let bytes = std::fs::metadata(&path).unwrap().len();
    assert_eq!(aapl["bytes"].as_u64().unwrap(), bytes);
    assert_eq!(aapl["updated"], "2024-06-14T20:30:00Z");
    assert!(aapl["error"].is_null());
    let btc = &rows[1];
    assert_eq!(btc["symbol"], "BTC/USD");
    assert_eq!(btc["asset_class"], "crypto");
    assert_eq!(btc["feed"], "us");
    assert_eq!(btc["timeframe"], "1Hour");
    let two_days = json!([["2024-06-10T00:00:00Z", "2024-06-12T00:00:00Z"]]);
    assert_eq!(btc["coverage"], two_days);

    assert_eq!(inspect_json(&env, "BTC/USD").len(), 1);
    assert_eq!(inspect_json(&env, "-t 1Day").len(), 1);
    env.run("inspect AAPL --format table")
        .success()
        .assert_stdout_contains("covered ranges of AAPL 1Day")
        .assert_stdout_contains("2024-01-01T05:00:00Z to 2024-04-01T04:00:00Z");
    let csv_listing = env.run("inspect").success().stdout;
    let header =
        "symbol,asset_class,feed,timeframe,first,last,rows,coverage_ranges,bytes,updated,path\n";
    assert!(csv_listing.starts_with(header));
    assert_eq!(csv_listing.lines().count(), 3);
    env.run("inspect --verify").success();
}

/// Rewrites a series file with one row duplicated, keeping barkeep's metadata.
fn duplicate_a_row(path: &std::path::Path) {
    let file = std::fs::File::open(path).unwrap();
    let builder =
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
    let metadata = builder.metadata().file_metadata().key_value_metadata();
    let kv = metadata.unwrap().iter().find(|kv| kv.key == "barkeep");
    let kv = kv.unwrap().clone();
    let schema = builder.schema().clone();
    let batches: Vec<RecordBatch> = builder.build().unwrap().map(Result::unwrap).collect();
    let batch = arrow::compute::concat_batches(&schema, &batches).unwrap();
    let take = |i: usize| -> ArrayRef {
        let rows = 0..batch.num_rows() as u64;
        let rows = rows.flat_map(|r| if r == 3 { vec![r, r] } else { vec![r] });
        let idx = UInt64Array::from(rows.collect::<Vec<_>>());
        arrow::compute::take(batch.column(i), &idx, None).unwrap()
    };
    let columns: Vec<ArrayRef> = (0..batch.num_columns()).map(take).collect();
    let doubled = RecordBatch::try_new(schema.clone(), columns).unwrap();
    let props = WriterProperties::builder()
        .set_key_value_metadata(Some(vec![KeyValue::new(kv.key, kv.value)]))
        .build();
    let out = std::fs::File::create(path).unwrap();
    let mut writer = ArrowWriter::try_new(out, schema, Some(props)).unwrap();
    writer.write(&doubled).unwrap();
    writer.close().unwrap();
}

#[test]
fn verify_finds_damaged_files_and_fetch_refuses_them() {
    let env = TestEnv::new();
    let three = env.run("fetch -q AAPL MSFT NVDA --start 2024-01-01 --end 2024-03-31");
    three.success();
    let aapl = env.series_path("stocks/sip/1Day/AAPL.parquet");
    let msft = env.series_path("stocks/sip/1Day/MSFT.parquet");
    let len = std::fs::metadata(&aapl).unwrap().len();
    let file = std::fs::OpenOptions::new().write(true).open(&aapl);
    file.unwrap().set_len(len / 2).unwrap();
    duplicate_a_row(&msft);

    // The plain listing still lists all three and flags the truncated file.
    let rows = inspect_json(&env, "");
    assert_eq!(rows.len(), 3);
    assert!(rows[0]["error"].as_str().is_some(), "{:?}", rows[0]);
    assert!(rows[2]["error"].is_null());

    env.run("inspect --verify")
        .failure(1)
        .assert_stderr_contains(&aapl.display().to_string())
        .assert_stderr_contains(&msft.display().to_string())
        .assert_stderr_contains("duplicated")
        .assert_stderr_lacks("NVDA.parquet");

    for (symbol, path) in [("AAPL", &aapl), ("MSFT", &msft)] {
        env.run(&format!(
            "fetch {symbol} --start 2024-01-01 --end 2024-03-31"
        ))
        .failure(1)
        .assert_stdout_empty()
        .assert_stderr_contains("damaged")
        .assert_stderr_contains(&path.display().to_string())
        .assert_stderr_contains(&format!("barkeep prune {symbol} -t 1Day"));
    }
    // A damaged series fails the fetch, but the healthy one beside it is still filled.
    env.run("fetch AAPL NVDA --start 2024-01-01 --end 2024-06-30")
        .failure(1)
        .assert_stdout_empty()
        .assert_stderr_contains(&aapl.display().to_string());
    env.run("fetch -q NVDA --start 2024-06-01 --end 2024-06-30 --offline")
        .success()
        .assert_stdout_contains("NVDA,2024-06-03T04:00:00Z");
    // The recovery the hint gives works.
    env.run("prune AAPL -t 1Day").success();
    env.run("fetch -q AAPL --start 2024-01-01 --end 2024-03-31")
        .success();
}
