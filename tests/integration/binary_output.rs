//! `fetch --format arrow` and `--format parquet` (issue 24): the Arrow IPC stream piped into
//! pyarrow and polars, the Parquet file (from `-o` and from a pipe) read by DuckDB and
//! pyarrow, each against the CSV of the same fetch (rows, order, values, types); a terminal
//! refused; and a fully cached fetch that never builds its HTTP client.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};

use arrow::array::{Array, Float64Array, StringArray, TimestampNanosecondArray, UInt64Array};
use arrow::datatypes::DataType;
use arrow::ipc::reader::StreamReader;
use serde_json::Value;

use crate::support::{CsvBar, TestEnv, parse_csv, python_script, test_python};

/// The fetches every format is checked with: several stocks, a crypto pair, adjusted prices.
const FETCHES: [&str; 3] = [
    "AAPL MSFT -t 1Day --start 2024-01-01 --end 2024-03-31",
    "BTC/USD -t 1Hour --start 2024-06-10 --end 2024-06-11",
    "ACME -t 1Day --start 2022-06-01 --end 2023-12-31 --adjustment all",
];

/// A Python reading a table (`t`, a pyarrow table) prints this: the type names, then one row
/// per bar with the timestamp in nanoseconds since the epoch.
const PRINT_TABLE: &str = r#"
import json
import pyarrow as pa
def show(t, types):
    ts = t.column("timestamp").cast(pa.int64()).to_pylist()
    cols = [t.column(n).to_pylist() for n in t.column_names]
    rows = [[c[i] for c in cols] for i in range(t.num_rows)]
    for r, n in zip(rows, ts):
        r[1] = n
    print(json.dumps({"columns": t.column_names, "types": types, "rows": rows}))
"#;

/// What a reader saw, checked against the CSV of the same fetch: same columns, same rows in
/// the same order, same values (floats exactly: CSV prints their shortest round trip).
#[track_caller]
fn assert_same_as_csv(seen: &Value, csv: &[CsvBar], what: &str) {
    let columns = "symbol timestamp open high low close volume trade_count vwap";
    let names: Vec<&str> = columns.split(' ').collect();
    assert_eq!(seen["columns"], serde_json::json!(names), "{what}");
    let rows = seen["rows"].as_array().unwrap();
    assert_eq!(rows.len(), csv.len(), "{what}: rows");
    assert!(!csv.is_empty(), "{what}: the fetch has bars");
    for (row, bar) in rows.iter().zip(csv) {
        let f = |i: usize| row[i].as_f64().unwrap();
        let b = &bar.bar;
        assert_eq!(row[0], bar.symbol.as_str(), "{what}");
        let nanos = bar.t.timestamp_nanos_opt().unwrap();
        assert_eq!(row[1].as_i64().unwrap(), nanos, "{what}: {}", bar.t);
        let got = [f(2), f(3), f(4), f(5), f(6), f(8)];
        assert_eq!(got, [b.o, b.h, b.l, b.c, b.v, b.vw], "{what} at {}", bar.t);
        assert_eq!(
            row[7].as_u64(),
            Some(b.n),
            "{what}: trade_count at {}",
            bar.t
        );
    }
}

/// The types each reader must report, by the class of the fetch's volume.
fn volume_is_integer(fetch: &str) -> bool {
    !fetch.contains('/')
}

/// Runs `barkeep fetch ARGS` with stdout piped into `python -c SCRIPT`; Python's stdout.
fn pipe_into_python(env: &TestEnv, python: &std::ffi::OsStr, args: &str, script: &str) -> String {
    let mut barkeep = env
        .command(format!("fetch -q {args}").as_str())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = barkeep.stdout.take().unwrap();
    let reader = Command::new(python)
        .args(["-c", &python_script(script)])
        .stdin(stdout)
        .output()
        .unwrap();
    assert!(barkeep.wait().unwrap().success(), "barkeep fetch {args}");
    assert!(
        reader.status.success(),
        "{}",
        String::from_utf8_lossy(&reader.stderr)
    );
    String::from_utf8(reader.stdout).unwrap()
}

#[test]
fn arrow_stream_piped_into_pyarrow_and_polars_equals_the_csv() {
    let Some(python) = test_python() else {
        eprintln!("BARKEEP_TEST_PYTHON is not set (CI sets it): skipping pyarrow and polars");
        return;
    };
    let env = TestEnv::new();
    let pyarrow = format!(
        "{PRINT_TABLE}
import sys
t = pa.ipc.open_stream(sys.stdin.buffer).read_all()
show(t, [str(f.type) for f in t.schema])"
    );
    let polars = format!(
        "{PRINT_TABLE}
import sys, polars as pl
df = pl.read_ipc_stream(sys.stdin.buffer)
show(df.to_arrow(), [str(d) for d in df.dtypes])"
    );
    for fetch in FETCHES {
        let csv = parse_csv(&env.fetch_csv(fetch));
        let args = format!("{fetch} --format arrow");
        let seen: Value =
            serde_json::from_str(&pipe_into_python(&env, &python, &args, &pyarrow)).unwrap();
        assert_same_as_csv(&seen, &csv, &format!("pyarrow: {fetch}"));
        let volume = if volume_is_integer(fetch) {
            "uint64"
        } else {
            "double"
        };
        let types = [
            "string",
            "timestamp[ns, tz=UTC]",
            "double",
            "double",
            "double",
        ];
        let rest = ["double", volume, "uint64", "double"];
        assert_eq!(
            seen["types"],
            serde_json::json!([&types[..], &rest[..]].concat())
        );

        let seen: Value =
            serde_json::from_str(&pipe_into_python(&env, &python, &args, &polars)).unwrap();
        assert_same_as_csv(&seen, &csv, &format!("polars: {fetch}"));
        let types = &seen["types"];
        assert_eq!(
            types[1], "Datetime(time_unit='ns', time_zone='UTC')",
            "{fetch}"
        );
        let volume = if volume_is_integer(fetch) {
            "UInt64"
        } else {
            "Float64"
        };
        assert_eq!(types[6], volume, "{fetch}");
    }
}

#[test]
fn parquet_read_by_duckdb_and_pyarrow_equals_the_csv() {
    let Some(python) = test_python() else {
        eprintln!("BARKEEP_TEST_PYTHON is not set (CI sets it): skipping DuckDB and pyarrow");
        return;
    };
    let env = TestEnv::new();
    let duckdb = format!(
        "{PRINT_TABLE}
import sys, duckdb
rel = duckdb.sql(\"select * from read_parquet('\" + sys.argv[1] + \"')\")
show(rel.to_arrow_table(), [str(t) for t in rel.types])"
    );
    let pyarrow = format!(
        "{PRINT_TABLE}
import sys, pyarrow.parquet as pq
t = pq.read_table(pa.BufferReader(sys.stdin.buffer.read()))
show(t, [str(f.type) for f in t.schema])"
    );
    for (n, fetch) in FETCHES.iter().enumerate() {
        let csv = parse_csv(&env.fetch_csv(fetch));
        let file = env.dir.path().join(format!("bars-{n}.parquet"));
        let line = format!("fetch -q {fetch} --format parquet -o {}", file.display());
        env.run(line.as_str()).success().assert_stdout_empty();
        let seen = crate::support::run_python(&python, &duckdb, &[&file]);
        let seen: Value = serde_json::from_str(&seen).unwrap();
        assert_same_as_csv(&seen, &csv, &format!("duckdb: {fetch}"));
        let volume = if volume_is_integer(fetch) {
            "UBIGINT"
        } else {
            "DOUBLE"
        };
        // Nanoseconds with a time zone (DuckDB 2 names it TIMESTAMPTZ_NS).
        let types = ["VARCHAR", "TIMESTAMPTZ_NS", "DOUBLE", "DOUBLE", "DOUBLE"];
        let rest = ["DOUBLE", volume, "UBIGINT", "DOUBLE"];
        assert_eq!(
            seen["types"],
            serde_json::json!([&types[..], &rest[..]].concat())
        );

        // A pipe gets the same file.
        let args = format!("{fetch} --format parquet");
        let seen: Value =
            serde_json::from_str(&pipe_into_python(&env, &python, &args, &pyarrow)).unwrap();
        assert_same_as_csv(&seen, &csv, &format!("pyarrow: {fetch}"));
        assert_eq!(seen["types"][1], "timestamp[ns, tz=UTC]");
        let volume = if volume_is_integer(fetch) {
            "uint64"
        } else {
            "double"
        };
        assert_eq!(seen["types"][6], volume);
    }
}

/// The Arrow stream (to `-o`) read back with arrow-rs, whatever Python there is: stocks and
/// crypto in one run, so `volume` is float64.
#[test]
fn arrow_stream_of_stocks_and_crypto_reads_back_as_the_csv() {
    let env = TestEnv::new();
    let fetch = "AAPL BTC/USD -t 1Hour --start 2024-06-10 --end 2024-06-11";
    let csv = parse_csv(&env.fetch_csv(fetch));
    let file = env.dir.path().join("bars.arrow");
    let line = format!("fetch -q {fetch} --format arrow -o {}", file.display());
    env.run(line.as_str()).success().assert_stdout_empty();
    let bytes = std::fs::read(&file).unwrap();
    let reader = StreamReader::try_new(bytes.as_slice(), None).unwrap();
    assert_eq!(reader.schema().field(6).data_type(), &DataType::Float64);
    let mut rows = 0;
    for batch in reader {
        let batch = batch.unwrap();
        let column = |i: usize| batch.column(i).clone();
        let symbol = column(0);
        let symbol = symbol.as_any().downcast_ref::<StringArray>().unwrap();
        let ts = column(1);
        let ts = ts
            .as_any()
            .downcast_ref::<TimestampNanosecondArray>()
            .unwrap();
        let float = |i: usize, row: usize| {
            let c = column(i);
            c.as_any()
                .downcast_ref::<Float64Array>()
                .unwrap()
                .value(row)
        };
        let trades = column(7);
        let trades = trades.as_any().downcast_ref::<UInt64Array>().unwrap();
        for i in 0..batch.num_rows() {
            let want = &csv[rows];
            assert_eq!(symbol.value(i), want.symbol);
            assert_eq!(ts.value(i), want.t.timestamp_nanos_opt().unwrap());
            let b = &want.bar;
            let got = [2, 3, 4, 5, 6, 8].map(|c| float(c, i));
            assert_eq!(got, [b.o, b.h, b.l, b.c, b.v, b.vw]);
            assert_eq!(trades.value(i), b.n);
            rows += 1;
        }
        assert_eq!(batch.column(6).null_count(), 0);
    }
    assert_eq!(rows, csv.len());
    assert!(csv.iter().any(|r| r.symbol == "AAPL") && csv.iter().any(|r| r.symbol == "BTC/USD"));
}

/// Runs `barkeep ARGS` on a pseudo-terminal with script(1); its exit status and what the
/// terminal showed. `None` when there is no script(1).
fn on_a_terminal(env: &TestEnv, args: &str) -> Option<(i32, String)> {
    if !Path::new("/usr/bin/script").exists() && !Path::new("/bin/script").exists() {
        return None;
    }
    let line = format!("{} {args}", crate::support::BIN);
    let hermetic = env.command("--version");
    // script(1) runs `line` with stdin, stdout and stderr on a new pty; -e passes on its
    // exit status, -q keeps script's own messages out.
    let mut script = Command::new("script");
    script.env_clear().args(["-qec", &line, "/dev/null"]);
    for (k, v) in hermetic.get_envs() {
        if let Some(v) = v {
            script.env(k, v);
        }
    }
    let mut child = script
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut shown = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut shown)
        .unwrap();
    let status = child.wait().unwrap();
    Some((status.code().unwrap_or(-1), shown))
}

#[test]
fn binary_formats_refuse_a_terminal_and_name_the_reason() {
    let env = TestEnv::new();
    for format in ["arrow", "parquet"] {
        let args = format!("fetch AAPL --start 2024-01-02 --end 2024-01-05 --format {format}");
        let Some((code, shown)) = on_a_terminal(&env, &args) else {
            eprintln!("no script(1): skipping the terminal check");
            return;
        };
        assert_eq!(code, 2, "{format}: {shown}");
        let why = format!("--format {format} writes binary data, and stdout is a terminal");
        assert!(shown.contains(&why), "{format}: {shown}");
        assert!(shown.contains("-o FILE"), "{format}: {shown}");
        assert_eq!(shown.trim().lines().count(), 1, "one line: {shown}");
    }
    assert!(
        env.take_bar_requests().is_empty(),
        "refused before any request"
    );
    // The same run into a file on that terminal is fine.
    let file = env.dir.path().join("bars.arrow");
    let args = format!(
        "fetch -q AAPL --start 2024-01-02 --end 2024-01-05 --format arrow -o {}",
        file.display()
    );
    let (code, shown) = on_a_terminal(&env, &args).unwrap();
    assert_eq!(code, 0, "{shown}");
    let bytes = std::fs::read(&file).unwrap();
    let reader = StreamReader::try_new(bytes.as_slice(), None).unwrap();
    let sessions = "2024-01-02 to 2024-01-05: four sessions";
    assert_eq!(
        reader.map(|b| b.unwrap().num_rows()).sum::<usize>(),
        4,
        "{sessions}"
    );
}

/// `-o` naming a terminal (`/dev/tty`, `/dev/stdout` on one) is refused like stdout on a
/// terminal: exit 2, one line, before any request; `-o /dev/null` (a device, not a terminal)
/// is fine.
#[test]
fn binary_formats_refuse_an_output_file_that_is_a_terminal() {
    let env = TestEnv::new();
    for (format, output) in [("arrow", "/dev/tty"), ("parquet", "/dev/stdout")] {
        let args =
            format!("fetch AAPL --start 2024-01-02 --end 2024-01-05 --format {format} -o {output}");
        let Some((code, shown)) = on_a_terminal(&env, &args) else {
            eprintln!("no script(1): skipping the terminal check");
            return;
        };
        assert_eq!(code, 2, "{format} -o {output}: {shown}");
        let why =
            format!("--format {format} writes binary data, and --output `{output}` is a terminal");
        assert!(shown.contains(&why), "{format} -o {output}: {shown}");
        assert!(shown.contains("-o FILE"), "{format} -o {output}: {shown}");
        assert_eq!(shown.trim().lines().count(), 1, "one line: {shown}");
    }
    assert!(
        env.take_bar_requests().is_empty(),
        "refused before any request"
    );
    let args = "fetch -q AAPL --start 2024-01-02 --end 2024-01-05 --format arrow -o /dev/null";
    let (code, shown) = on_a_terminal(&env, args).unwrap();
    assert_eq!(code, 0, "{shown}");
}

/// A fetch the cache answers whole sends nothing, so it builds no HTTP client and reads no
/// CA certificates: with a certificate file that holds none (which fails building a client),
/// it still succeeds; one that must ask Alpaca fails on it.
#[test]
fn a_fully_cached_fetch_reads_no_certificates() {
    let env = TestEnv::new();
    let fetch = "fetch -q AAPL -t 1Day --start 2024-01-01 --end 2024-03-31";
    let csv = env.run(fetch).success().stdout;
    env.take_bar_requests();
    let no_certificates = env.dir.path().join("no-certificates.pem");
    std::fs::write(&no_certificates, "").unwrap();
    let run = |line: &str| {
        crate::support::run(
            env.command(line)
                .env("SSL_CERT_FILE", &no_certificates)
                .env_remove("SSL_CERT_DIR"),
        )
    };
    let cached = run(fetch).success();
    assert_eq!(cached.stdout, csv);
    cached.assert_stderr_empty();
    assert!(env.take_bar_requests().is_empty());
    // The same certificate file does stop a run that needs a request.
    run("fetch -q AAPL -t 1Day --start 2023-01-01 --end 2023-03-31").failure(1);
}
