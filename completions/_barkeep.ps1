
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'barkeep' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'barkeep'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'barkeep' {
            [CompletionResult]::new('--cache-dir', '--cache-dir', [CompletionResultType]::ParameterName, 'The cache directory [default: the user cache directory]')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour on stderr (NO_COLOR is honoured)')
            [CompletionResult]::new('--api-url', '--api-url', [CompletionResultType]::ParameterName, 'Alpaca''s market-data base URL')
            [CompletionResult]::new('--rate-limit', '--rate-limit', [CompletionResultType]::ParameterName, 'Requests per minute at most (Alpaca''s free plan allows 200)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less: no progress or notes (errors still show)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less: no progress or notes (errors still show)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print a log of every request to Alpaca on stderr; repeat (-vv) for response headers')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print a log of every request to Alpaca on stderr; repeat (-vv) for response headers')
            [CompletionResult]::new('--no-progress', '--no-progress', [CompletionResultType]::ParameterName, 'Never draw progress bars (they only ever appear when stderr is a terminal)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('fetch', 'fetch', [CompletionResultType]::ParameterValue, 'Fill the cache''s gaps for some symbols, then print their bars')
            [CompletionResult]::new('update', 'update', [CompletionResultType]::ParameterValue, 'Bring cached series (or a watchlist) up to now, in as few requests as Alpaca allows')
            [CompletionResult]::new('inspect', 'inspect', [CompletionResultType]::ParameterValue, 'Show what the cache holds: one row per cached series')
            [CompletionResult]::new('prune', 'prune', [CompletionResultType]::ParameterValue, 'Remove series, or drop old bars, from the cache')
            [CompletionResult]::new('generate', 'generate', [CompletionResultType]::ParameterValue, 'Write shell completions or man pages (for packagers; the output is committed)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'barkeep;fetch' {
            [CompletionResult]::new('-t', '-t', [CompletionResultType]::ParameterName, 'Bar timeframe: [1-59]Min, [1-23]Hour, 1Day, 1Week, 1/2/3/4/6/12Month (or T, H, D, W, M)')
            [CompletionResult]::new('--timeframe', '--timeframe', [CompletionResultType]::ParameterName, 'Bar timeframe: [1-59]Min, [1-23]Hour, 1Day, 1Week, 1/2/3/4/6/12Month (or T, H, D, W, M)')
            [CompletionResult]::new('--start', '--start', [CompletionResultType]::ParameterName, 'First bar to include [default: 5d for Min/Hour bars, 1y otherwise]')
            [CompletionResult]::new('--end', '--end', [CompletionResultType]::ParameterName, 'Last bar to include [default: now]; a calendar day includes the whole day')
            [CompletionResult]::new('--feed', '--feed', [CompletionResultType]::ParameterName, 'Stock data feed (crypto always comes from Alpaca''s `us` location)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format [default: table on a terminal, csv otherwise]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Write the bars to FILE (replaced atomically) instead of stdout')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Write the bars to FILE (replaced atomically) instead of stdout')
            [CompletionResult]::new('--adjustment', '--adjustment', [CompletionResultType]::ParameterName, 'Adjust stock prices for corporate actions: raw, split, dividend, spin-off, all, or a comma list such as split,dividend')
            [CompletionResult]::new('--session', '--session', [CompletionResultType]::ParameterName, 'Trading hours of the bars: extended (what Alpaca serves) or regular (09:30-16:00 New York, built from the cached 1Min bars)')
            [CompletionResult]::new('--from', '--from', [CompletionResultType]::ParameterName, 'Build the timeframe from this cached finer timeframe (1Min) instead of asking Alpaca for it')
            [CompletionResult]::new('--cache-dir', '--cache-dir', [CompletionResultType]::ParameterName, 'The cache directory [default: the user cache directory]')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour on stderr (NO_COLOR is honoured)')
            [CompletionResult]::new('--api-url', '--api-url', [CompletionResultType]::ParameterName, 'Alpaca''s market-data base URL')
            [CompletionResult]::new('--rate-limit', '--rate-limit', [CompletionResultType]::ParameterName, 'Requests per minute at most (Alpaca''s free plan allows 200)')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Replace the --output FILE even when it is read-only (it stays read-only)')
            [CompletionResult]::new('--offline', '--offline', [CompletionResultType]::ParameterName, 'Do not use the network: serve what the cache holds, up to each series'' last update')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less: no progress or notes (errors still show)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less: no progress or notes (errors still show)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print a log of every request to Alpaca on stderr; repeat (-vv) for response headers')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print a log of every request to Alpaca on stderr; repeat (-vv) for response headers')
            [CompletionResult]::new('--no-progress', '--no-progress', [CompletionResultType]::ParameterName, 'Never draw progress bars (they only ever appear when stderr is a terminal)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'barkeep;update' {
            [CompletionResult]::new('-t', '-t', [CompletionResultType]::ParameterName, 'Timeframes to update; repeat for several [default: those cached, else 1Day]')
            [CompletionResult]::new('--timeframe', '--timeframe', [CompletionResultType]::ParameterName, 'Timeframes to update; repeat for several [default: those cached, else 1Day]')
            [CompletionResult]::new('--symbols-file', '--symbols-file', [CompletionResultType]::ParameterName, 'Read symbols from FILE, one per line (`#` comments and blank lines ignored; `-` is stdin)')
            [CompletionResult]::new('--start', '--start', [CompletionResultType]::ParameterName, 'Where series that are not cached yet start [default: 1y]')
            [CompletionResult]::new('--feed', '--feed', [CompletionResultType]::ParameterName, 'Stock feed [default: every cached feed; sip for new series]')
            [CompletionResult]::new('--universe', '--universe', [CompletionResultType]::ParameterName, 'Update every asset of CLASS in Alpaca''s assets list (active ones; see --include-inactive)')
            [CompletionResult]::new('--exchange', '--exchange', [CompletionResultType]::ParameterName, 'With --universe, only assets listed on these exchanges (comma-separated, e.g. NYSE,NASDAQ)')
            [CompletionResult]::new('--report', '--report', [CompletionResultType]::ParameterName, 'Print a machine-readable report on stdout')
            [CompletionResult]::new('--cache-dir', '--cache-dir', [CompletionResultType]::ParameterName, 'The cache directory [default: the user cache directory]')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour on stderr (NO_COLOR is honoured)')
            [CompletionResult]::new('--api-url', '--api-url', [CompletionResultType]::ParameterName, 'Alpaca''s market-data base URL')
            [CompletionResult]::new('--rate-limit', '--rate-limit', [CompletionResultType]::ParameterName, 'Requests per minute at most (Alpaca''s free plan allows 200)')
            [CompletionResult]::new('--include-inactive', '--include-inactive', [CompletionResultType]::ParameterName, 'With --universe, also the assets no longer active (delisted), for their history')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Print the plan (series, ranges, estimated requests) and make no request')
            [CompletionResult]::new('--no-wait', '--no-wait', [CompletionResultType]::ParameterName, 'Exit 1 at once if another barkeep run holds a series'' lock, instead of waiting')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less: no progress or notes (errors still show)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less: no progress or notes (errors still show)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print a log of every request to Alpaca on stderr; repeat (-vv) for response headers')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print a log of every request to Alpaca on stderr; repeat (-vv) for response headers')
            [CompletionResult]::new('--no-progress', '--no-progress', [CompletionResultType]::ParameterName, 'Never draw progress bars (they only ever appear when stderr is a terminal)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'barkeep;inspect' {
            [CompletionResult]::new('-t', '-t', [CompletionResultType]::ParameterName, 'Only these timeframes; repeat for several')
            [CompletionResult]::new('--timeframe', '--timeframe', [CompletionResultType]::ParameterName, 'Only these timeframes; repeat for several')
            [CompletionResult]::new('--feed', '--feed', [CompletionResultType]::ParameterName, 'Only this stock feed')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format [default: table on a terminal, csv otherwise]')
            [CompletionResult]::new('--start', '--start', [CompletionResultType]::ParameterName, 'First date (YYYY-MM-DD, New York) for --calendar or --gaps [default: --calendar: today]')
            [CompletionResult]::new('--end', '--end', [CompletionResultType]::ParameterName, 'Last date, inclusive, for --calendar or --gaps [default: --calendar: 2 weeks after --start]')
            [CompletionResult]::new('--cache-dir', '--cache-dir', [CompletionResultType]::ParameterName, 'The cache directory [default: the user cache directory]')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour on stderr (NO_COLOR is honoured)')
            [CompletionResult]::new('--api-url', '--api-url', [CompletionResultType]::ParameterName, 'Alpaca''s market-data base URL')
            [CompletionResult]::new('--rate-limit', '--rate-limit', [CompletionResultType]::ParameterName, 'Requests per minute at most (Alpaca''s free plan allows 200)')
            [CompletionResult]::new('--verify', '--verify', [CompletionResultType]::ParameterName, 'Read every file whole and check it: a regular file (not a link or a directory), readable Parquet with the expected schema, sorted, one row per timestamp, rows inside the recorded coverage; also report rollback journals whose series file is gone and corporate-actions ledgers that cannot be read; exit 1 if anything is wrong')
            [CompletionResult]::new('--gaps', '--gaps', [CompletionResultType]::ParameterName, 'List the market sessions inside each stock series'' coverage that hold no bar at all')
            [CompletionResult]::new('--calendar', '--calendar', [CompletionResultType]::ParameterName, 'Print the US equity market calendar from --start to --end instead of the cache: sessions (extended and regular hours), early closes and holidays, 2016 to 2030')
            [CompletionResult]::new('--assets', '--assets', [CompletionResultType]::ParameterName, 'Print the cached assets lists of `update --universe` instead of the series: symbol, name, exchange, status and asset class (only the SYMBOLs named, when any)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less: no progress or notes (errors still show)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less: no progress or notes (errors still show)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print a log of every request to Alpaca on stderr; repeat (-vv) for response headers')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print a log of every request to Alpaca on stderr; repeat (-vv) for response headers')
            [CompletionResult]::new('--no-progress', '--no-progress', [CompletionResultType]::ParameterName, 'Never draw progress bars (they only ever appear when stderr is a terminal)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'barkeep;prune' {
            [CompletionResult]::new('-t', '-t', [CompletionResultType]::ParameterName, 'Only these timeframes; repeat for several')
            [CompletionResult]::new('--timeframe', '--timeframe', [CompletionResultType]::ParameterName, 'Only these timeframes; repeat for several')
            [CompletionResult]::new('--feed', '--feed', [CompletionResultType]::ParameterName, 'Only this stock feed')
            [CompletionResult]::new('--before', '--before', [CompletionResultType]::ParameterName, 'Drop bars before WHEN (YYYY-MM-DD, RFC 3339, or a span back from now such as 2y)')
            [CompletionResult]::new('--keep', '--keep', [CompletionResultType]::ParameterName, 'Keep only the last SPAN of bars (e.g. 90d, 6mo, 2y); the same as --before SPAN')
            [CompletionResult]::new('--cache-dir', '--cache-dir', [CompletionResultType]::ParameterName, 'The cache directory [default: the user cache directory]')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour on stderr (NO_COLOR is honoured)')
            [CompletionResult]::new('--api-url', '--api-url', [CompletionResultType]::ParameterName, 'Alpaca''s market-data base URL')
            [CompletionResult]::new('--rate-limit', '--rate-limit', [CompletionResultType]::ParameterName, 'Requests per minute at most (Alpaca''s free plan allows 200)')
            [CompletionResult]::new('--compact', '--compact', [CompletionResultType]::ParameterName, 'Rewrite the selected series (every series when none is named) into large row groups now, instead of waiting for the automatic compaction after many small appends; no bar changes')
            [CompletionResult]::new('--all', '--all', [CompletionResultType]::ParameterName, 'Remove every series in the cache (asks first on a terminal; needs --yes otherwise)')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Show what would be removed and change nothing')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Do not ask for confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Do not ask for confirmation')
            [CompletionResult]::new('--no-wait', '--no-wait', [CompletionResultType]::ParameterName, 'Exit 1 at once if another barkeep run holds a series'' lock, instead of waiting')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less: no progress or notes (errors still show)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less: no progress or notes (errors still show)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print a log of every request to Alpaca on stderr; repeat (-vv) for response headers')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print a log of every request to Alpaca on stderr; repeat (-vv) for response headers')
            [CompletionResult]::new('--no-progress', '--no-progress', [CompletionResultType]::ParameterName, 'Never draw progress bars (they only ever appear when stderr is a terminal)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'barkeep;generate' {
            [CompletionResult]::new('--cache-dir', '--cache-dir', [CompletionResultType]::ParameterName, 'The cache directory [default: the user cache directory]')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour on stderr (NO_COLOR is honoured)')
            [CompletionResult]::new('--api-url', '--api-url', [CompletionResultType]::ParameterName, 'Alpaca''s market-data base URL')
            [CompletionResult]::new('--rate-limit', '--rate-limit', [CompletionResultType]::ParameterName, 'Requests per minute at most (Alpaca''s free plan allows 200)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less: no progress or notes (errors still show)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less: no progress or notes (errors still show)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print a log of every request to Alpaca on stderr; repeat (-vv) for response headers')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print a log of every request to Alpaca on stderr; repeat (-vv) for response headers')
            [CompletionResult]::new('--no-progress', '--no-progress', [CompletionResultType]::ParameterName, 'Never draw progress bars (they only ever appear when stderr is a terminal)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print SHELL''s completion script, or write the scripts into --dir')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Write barkeep.1 and one page per subcommand (barkeep-fetch.1, ...) into DIR')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'barkeep;generate;completions' {
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'Write into DIR under each shell''s usual file name (barkeep.bash, _barkeep, ...)')
            [CompletionResult]::new('--cache-dir', '--cache-dir', [CompletionResultType]::ParameterName, 'The cache directory [default: the user cache directory]')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour on stderr (NO_COLOR is honoured)')
            [CompletionResult]::new('--api-url', '--api-url', [CompletionResultType]::ParameterName, 'Alpaca''s market-data base URL')
            [CompletionResult]::new('--rate-limit', '--rate-limit', [CompletionResultType]::ParameterName, 'Requests per minute at most (Alpaca''s free plan allows 200)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less: no progress or notes (errors still show)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less: no progress or notes (errors still show)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print a log of every request to Alpaca on stderr; repeat (-vv) for response headers')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print a log of every request to Alpaca on stderr; repeat (-vv) for response headers')
            [CompletionResult]::new('--no-progress', '--no-progress', [CompletionResultType]::ParameterName, 'Never draw progress bars (they only ever appear when stderr is a terminal)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'barkeep;generate;man' {
            [CompletionResult]::new('--cache-dir', '--cache-dir', [CompletionResultType]::ParameterName, 'The cache directory [default: the user cache directory]')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour on stderr (NO_COLOR is honoured)')
            [CompletionResult]::new('--api-url', '--api-url', [CompletionResultType]::ParameterName, 'Alpaca''s market-data base URL')
            [CompletionResult]::new('--rate-limit', '--rate-limit', [CompletionResultType]::ParameterName, 'Requests per minute at most (Alpaca''s free plan allows 200)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less: no progress or notes (errors still show)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less: no progress or notes (errors still show)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print a log of every request to Alpaca on stderr; repeat (-vv) for response headers')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print a log of every request to Alpaca on stderr; repeat (-vv) for response headers')
            [CompletionResult]::new('--no-progress', '--no-progress', [CompletionResultType]::ParameterName, 'Never draw progress bars (they only ever appear when stderr is a terminal)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'barkeep;generate;help' {
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print SHELL''s completion script, or write the scripts into --dir')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Write barkeep.1 and one page per subcommand (barkeep-fetch.1, ...) into DIR')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'barkeep;generate;help;completions' {
            break
        }
        'barkeep;generate;help;man' {
            break
        }
        'barkeep;generate;help;help' {
            break
        }
        'barkeep;help' {
            [CompletionResult]::new('fetch', 'fetch', [CompletionResultType]::ParameterValue, 'Fill the cache''s gaps for some symbols, then print their bars')
            [CompletionResult]::new('update', 'update', [CompletionResultType]::ParameterValue, 'Bring cached series (or a watchlist) up to now, in as few requests as Alpaca allows')
            [CompletionResult]::new('inspect', 'inspect', [CompletionResultType]::ParameterValue, 'Show what the cache holds: one row per cached series')
            [CompletionResult]::new('prune', 'prune', [CompletionResultType]::ParameterValue, 'Remove series, or drop old bars, from the cache')
            [CompletionResult]::new('generate', 'generate', [CompletionResultType]::ParameterValue, 'Write shell completions or man pages (for packagers; the output is committed)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'barkeep;help;fetch' {
            break
        }
        'barkeep;help;update' {
            break
        }
        'barkeep;help;inspect' {
            break
        }
        'barkeep;help;prune' {
            break
        }
        'barkeep;help;generate' {
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print SHELL''s completion script, or write the scripts into --dir')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Write barkeep.1 and one page per subcommand (barkeep-fetch.1, ...) into DIR')
            break
        }
        'barkeep;help;generate;completions' {
            break
        }
        'barkeep;help;generate;man' {
            break
        }
        'barkeep;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
