
use builtin;
use str;

set edit:completion:arg-completer[barkeep] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'barkeep'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'barkeep'= {
            cand --cache-dir 'The cache directory [default: the user cache directory]'
            cand --color 'When to use colour on stderr (NO_COLOR is honoured)'
            cand --api-url 'Alpaca''s market-data base URL'
            cand --rate-limit 'Requests per minute at most (Alpaca''s free plan allows 200)'
            cand -q 'Print less: no progress or notes (errors still show)'
            cand --quiet 'Print less: no progress or notes (errors still show)'
            cand -v 'Print a log of every request to Alpaca on stderr; repeat (-vv) for response headers'
            cand --verbose 'Print a log of every request to Alpaca on stderr; repeat (-vv) for response headers'
            cand --no-progress 'Never draw progress bars (they only ever appear when stderr is a terminal)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand fetch 'Fill the cache''s gaps for some symbols, then print their bars'
            cand update 'Bring cached series (or a watchlist) up to now, in as few requests as Alpaca allows'
            cand inspect 'Show what the cache holds: one row per cached series'
            cand prune 'Remove series, or drop old bars, from the cache'
            cand generate 'Write shell completions or man pages (for packagers; the output is committed)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'barkeep;fetch'= {
            cand -t 'Bar timeframe: [1-59]Min, [1-23]Hour, 1Day, 1Week, 1/2/3/4/6/12Month (or T, H, D, W, M)'
            cand --timeframe 'Bar timeframe: [1-59]Min, [1-23]Hour, 1Day, 1Week, 1/2/3/4/6/12Month (or T, H, D, W, M)'
            cand --start 'First bar to include [default: 5d for Min/Hour bars, 1y otherwise]'
            cand --end 'Last bar to include [default: now]; a calendar day includes the whole day'
            cand --feed 'Stock data feed (crypto always comes from Alpaca''s `us` location)'
            cand --format 'Output format [default: table on a terminal, csv otherwise]'
            cand -o 'Write the bars to FILE (replaced atomically) instead of stdout'
            cand --output 'Write the bars to FILE (replaced atomically) instead of stdout'
            cand --adjustment 'Adjust stock prices for corporate actions: raw, split, dividend, spin-off, all, or a comma list such as split,dividend'
            cand --session 'Trading hours of the bars: extended (what Alpaca serves) or regular (09:30-16:00 New York, built from the cached 1Min bars)'
            cand --from 'Build the timeframe from this cached finer timeframe (1Min) instead of asking Alpaca for it'
            cand --cache-dir 'The cache directory [default: the user cache directory]'
            cand --color 'When to use colour on stderr (NO_COLOR is honoured)'
            cand --api-url 'Alpaca''s market-data base URL'
            cand --rate-limit 'Requests per minute at most (Alpaca''s free plan allows 200)'
            cand --force 'Replace the --output FILE even when it is read-only (it stays read-only)'
            cand --offline 'Do not use the network: serve what the cache holds, up to each series'' last update'
            cand -q 'Print less: no progress or notes (errors still show)'
            cand --quiet 'Print less: no progress or notes (errors still show)'
            cand -v 'Print a log of every request to Alpaca on stderr; repeat (-vv) for response headers'
            cand --verbose 'Print a log of every request to Alpaca on stderr; repeat (-vv) for response headers'
            cand --no-progress 'Never draw progress bars (they only ever appear when stderr is a terminal)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'barkeep;update'= {
            cand -t 'Timeframes to update; repeat for several [default: those cached, else 1Day]'
            cand --timeframe 'Timeframes to update; repeat for several [default: those cached, else 1Day]'
            cand --symbols-file 'Read symbols from FILE, one per line (`#` comments and blank lines ignored; `-` is stdin)'
            cand --start 'Where series that are not cached yet start [default: 1y]'
            cand --feed 'Stock feed [default: every cached feed; sip for new series]'
            cand --universe 'Update every asset of CLASS in Alpaca''s assets list (active ones; see --include-inactive)'
            cand --exchange 'With --universe, only assets listed on these exchanges (comma-separated, e.g. NYSE,NASDAQ)'
            cand --report 'Print a machine-readable report on stdout'
            cand --cache-dir 'The cache directory [default: the user cache directory]'
            cand --color 'When to use colour on stderr (NO_COLOR is honoured)'
            cand --api-url 'Alpaca''s market-data base URL'
            cand --rate-limit 'Requests per minute at most (Alpaca''s free plan allows 200)'
            cand --include-inactive 'With --universe, also the assets no longer active (delisted), for their history'
            cand --dry-run 'Print the plan (series, ranges, estimated requests) and make no request'
            cand --no-wait 'Exit 1 at once if another barkeep run holds a series'' lock, instead of waiting'
            cand -q 'Print less: no progress or notes (errors still show)'
            cand --quiet 'Print less: no progress or notes (errors still show)'
            cand -v 'Print a log of every request to Alpaca on stderr; repeat (-vv) for response headers'
            cand --verbose 'Print a log of every request to Alpaca on stderr; repeat (-vv) for response headers'
            cand --no-progress 'Never draw progress bars (they only ever appear when stderr is a terminal)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'barkeep;inspect'= {
            cand -t 'Only these timeframes; repeat for several'
            cand --timeframe 'Only these timeframes; repeat for several'
            cand --feed 'Only this stock feed'
            cand --format 'Output format [default: table on a terminal, csv otherwise]'
            cand --start 'First date (YYYY-MM-DD, New York) for --calendar or --gaps [default: --calendar: today]'
            cand --end 'Last date, inclusive, for --calendar or --gaps [default: --calendar: 2 weeks after --start]'
            cand --cache-dir 'The cache directory [default: the user cache directory]'
            cand --color 'When to use colour on stderr (NO_COLOR is honoured)'
            cand --api-url 'Alpaca''s market-data base URL'
            cand --rate-limit 'Requests per minute at most (Alpaca''s free plan allows 200)'
            cand --verify 'Read every file whole and check it: a regular file (not a link or a directory), readable Parquet with the expected schema, sorted, one row per timestamp, rows inside the recorded coverage; also report rollback journals whose series file is gone and corporate-actions ledgers that cannot be read; exit 1 if anything is wrong'
            cand --gaps 'List the market sessions inside each stock series'' coverage that hold no bar at all'
            cand --calendar 'Print the US equity market calendar from --start to --end instead of the cache: sessions (extended and regular hours), early closes and holidays, 2016 to 2030'
            cand --assets 'Print the cached assets lists of `update --universe` instead of the series: symbol, name, exchange, status and asset class (only the SYMBOLs named, when any)'
            cand -q 'Print less: no progress or notes (errors still show)'
            cand --quiet 'Print less: no progress or notes (errors still show)'
            cand -v 'Print a log of every request to Alpaca on stderr; repeat (-vv) for response headers'
            cand --verbose 'Print a log of every request to Alpaca on stderr; repeat (-vv) for response headers'
            cand --no-progress 'Never draw progress bars (they only ever appear when stderr is a terminal)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'barkeep;prune'= {
            cand -t 'Only these timeframes; repeat for several'
            cand --timeframe 'Only these timeframes; repeat for several'
            cand --feed 'Only this stock feed'
            cand --before 'Drop bars before WHEN (YYYY-MM-DD, RFC 3339, or a span back from now such as 2y)'
            cand --keep 'Keep only the last SPAN of bars (e.g. 90d, 6mo, 2y); the same as --before SPAN'
            cand --cache-dir 'The cache directory [default: the user cache directory]'
            cand --color 'When to use colour on stderr (NO_COLOR is honoured)'
            cand --api-url 'Alpaca''s market-data base URL'
            cand --rate-limit 'Requests per minute at most (Alpaca''s free plan allows 200)'
            cand --compact 'Rewrite the selected series (every series when none is named) into large row groups now, instead of waiting for the automatic compaction after many small appends; no bar changes'
            cand --all 'Remove every series in the cache (asks first on a terminal; needs --yes otherwise)'
            cand --dry-run 'Show what would be removed and change nothing'
            cand -y 'Do not ask for confirmation'
            cand --yes 'Do not ask for confirmation'
            cand --no-wait 'Exit 1 at once if another barkeep run holds a series'' lock, instead of waiting'
            cand -q 'Print less: no progress or notes (errors still show)'
            cand --quiet 'Print less: no progress or notes (errors still show)'
            cand -v 'Print a log of every request to Alpaca on stderr; repeat (-vv) for response headers'
            cand --verbose 'Print a log of every request to Alpaca on stderr; repeat (-vv) for response headers'
            cand --no-progress 'Never draw progress bars (they only ever appear when stderr is a terminal)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'barkeep;generate'= {
            cand --cache-dir 'The cache directory [default: the user cache directory]'
            cand --color 'When to use colour on stderr (NO_COLOR is honoured)'
            cand --api-url 'Alpaca''s market-data base URL'
            cand --rate-limit 'Requests per minute at most (Alpaca''s free plan allows 200)'
            cand -q 'Print less: no progress or notes (errors still show)'
            cand --quiet 'Print less: no progress or notes (errors still show)'
            cand -v 'Print a log of every request to Alpaca on stderr; repeat (-vv) for response headers'
            cand --verbose 'Print a log of every request to Alpaca on stderr; repeat (-vv) for response headers'
            cand --no-progress 'Never draw progress bars (they only ever appear when stderr is a terminal)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand completions 'Print SHELL''s completion script, or write the scripts into --dir'
            cand man 'Write barkeep.1 and one page per subcommand (barkeep-fetch.1, ...) into DIR'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'barkeep;generate;completions'= {
            cand --dir 'Write into DIR under each shell''s usual file name (barkeep.bash, _barkeep, ...)'
            cand --cache-dir 'The cache directory [default: the user cache directory]'
            cand --color 'When to use colour on stderr (NO_COLOR is honoured)'
            cand --api-url 'Alpaca''s market-data base URL'
            cand --rate-limit 'Requests per minute at most (Alpaca''s free plan allows 200)'
            cand -q 'Print less: no progress or notes (errors still show)'
            cand --quiet 'Print less: no progress or notes (errors still show)'
            cand -v 'Print a log of every request to Alpaca on stderr; repeat (-vv) for response headers'
            cand --verbose 'Print a log of every request to Alpaca on stderr; repeat (-vv) for response headers'
            cand --no-progress 'Never draw progress bars (they only ever appear when stderr is a terminal)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'barkeep;generate;man'= {
            cand --cache-dir 'The cache directory [default: the user cache directory]'
            cand --color 'When to use colour on stderr (NO_COLOR is honoured)'
            cand --api-url 'Alpaca''s market-data base URL'
            cand --rate-limit 'Requests per minute at most (Alpaca''s free plan allows 200)'
            cand -q 'Print less: no progress or notes (errors still show)'
            cand --quiet 'Print less: no progress or notes (errors still show)'
            cand -v 'Print a log of every request to Alpaca on stderr; repeat (-vv) for response headers'
            cand --verbose 'Print a log of every request to Alpaca on stderr; repeat (-vv) for response headers'
            cand --no-progress 'Never draw progress bars (they only ever appear when stderr is a terminal)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'barkeep;generate;help'= {
            cand completions 'Print SHELL''s completion script, or write the scripts into --dir'
            cand man 'Write barkeep.1 and one page per subcommand (barkeep-fetch.1, ...) into DIR'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'barkeep;generate;help;completions'= {
        }
        &'barkeep;generate;help;man'= {
        }
        &'barkeep;generate;help;help'= {
        }
        &'barkeep;help'= {
            cand fetch 'Fill the cache''s gaps for some symbols, then print their bars'
            cand update 'Bring cached series (or a watchlist) up to now, in as few requests as Alpaca allows'
            cand inspect 'Show what the cache holds: one row per cached series'
            cand prune 'Remove series, or drop old bars, from the cache'
            cand generate 'Write shell completions or man pages (for packagers; the output is committed)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'barkeep;help;fetch'= {
        }
        &'barkeep;help;update'= {
        }
        &'barkeep;help;inspect'= {
        }
        &'barkeep;help;prune'= {
        }
        &'barkeep;help;generate'= {
            cand completions 'Print SHELL''s completion script, or write the scripts into --dir'
            cand man 'Write barkeep.1 and one page per subcommand (barkeep-fetch.1, ...) into DIR'
        }
        &'barkeep;help;generate;completions'= {
        }
        &'barkeep;help;generate;man'= {
        }
        &'barkeep;help;help'= {
        }
    ]
    $completions[$command]
}
