# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_barkeep_global_optspecs
    string join \n cache-dir= q/quiet v/verbose color= no-progress api-url= rate-limit= h/help V/version
end

function __fish_barkeep_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_barkeep_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_barkeep_using_subcommand
    set -l cmd (__fish_barkeep_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c barkeep -n "__fish_barkeep_needs_command" -l cache-dir -d 'The cache directory [default: the user cache directory]' -r -f -a "(__fish_complete_directories)"
complete -c barkeep -n "__fish_barkeep_needs_command" -l color -d 'When to use colour on stderr (NO_COLOR is honoured)' -r -f -a "auto\t'Colour when stderr is a terminal and NO_COLOR is not set'
always\t'Always colour stderr, even into a pipe or file'
never\t'Never colour'"
complete -c barkeep -n "__fish_barkeep_needs_command" -l api-url -d 'Alpaca\'s market-data base URL' -r -f
complete -c barkeep -n "__fish_barkeep_needs_command" -l rate-limit -d 'Requests per minute at most (Alpaca\'s free plan allows 200)' -r
complete -c barkeep -n "__fish_barkeep_needs_command" -s q -l quiet -d 'Print less: no progress or notes (errors still show)'
complete -c barkeep -n "__fish_barkeep_needs_command" -s v -l verbose -d 'Print a log of every request to Alpaca on stderr; repeat (-vv) for response headers'
complete -c barkeep -n "__fish_barkeep_needs_command" -l no-progress -d 'Never draw progress bars (they only ever appear when stderr is a terminal)'
complete -c barkeep -n "__fish_barkeep_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c barkeep -n "__fish_barkeep_needs_command" -s V -l version -d 'Print version'
complete -c barkeep -n "__fish_barkeep_needs_command" -f -a "fetch" -d 'Fill the cache\'s gaps for some symbols, then print their bars'
complete -c barkeep -n "__fish_barkeep_needs_command" -f -a "update" -d 'Bring cached series (or a watchlist) up to now, in as few requests as Alpaca allows'
complete -c barkeep -n "__fish_barkeep_needs_command" -f -a "inspect" -d 'Show what the cache holds: one row per cached series'
complete -c barkeep -n "__fish_barkeep_needs_command" -f -a "prune" -d 'Remove series, or drop old bars, from the cache'
complete -c barkeep -n "__fish_barkeep_needs_command" -f -a "generate" -d 'Write shell completions or man pages (for packagers; the output is committed)'
complete -c barkeep -n "__fish_barkeep_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c barkeep -n "__fish_barkeep_using_subcommand fetch" -s t -l timeframe -d 'Bar timeframe: [1-59]Min, [1-23]Hour, 1Day, 1Week, 1/2/3/4/6/12Month (or T, H, D, W, M)' -r
complete -c barkeep -n "__fish_barkeep_using_subcommand fetch" -l start -d 'First bar to include [default: 5d for Min/Hour bars, 1y otherwise]' -r
complete -c barkeep -n "__fish_barkeep_using_subcommand fetch" -l end -d 'Last bar to include [default: now]; a calendar day includes the whole day' -r
complete -c barkeep -n "__fish_barkeep_using_subcommand fetch" -l feed -d 'Stock data feed (crypto always comes from Alpaca\'s `us` location)' -r -f -a "sip\t'All US exchanges (the consolidated tape)'
iex\t'Investors Exchange only'
otc\t'Over-the-counter'
boats\t'Blue Ocean ATS (overnight)'"
complete -c barkeep -n "__fish_barkeep_using_subcommand fetch" -l format -d 'Output format [default: table on a terminal, csv otherwise]' -r -f -a "csv\t'Comma-separated values with a header line'
ndjson\t'One JSON object per bar, one per line'
json\t'One JSON array of objects'
table\t'Aligned columns for people'
arrow\t'Arrow IPC stream, for pyarrow, polars and DuckDB (binary: a pipe or -o, never a terminal)'
parquet\t'One Parquet file, for pyarrow, polars, DuckDB and Spark (binary: -o FILE or a pipe)'"
complete -c barkeep -n "__fish_barkeep_using_subcommand fetch" -s o -l output -d 'Write the bars to FILE (replaced atomically) instead of stdout' -r -F
complete -c barkeep -n "__fish_barkeep_using_subcommand fetch" -l adjustment -d 'Adjust stock prices for corporate actions: raw, split, dividend, spin-off, all, or a comma list such as split,dividend' -r
complete -c barkeep -n "__fish_barkeep_using_subcommand fetch" -l session -d 'Trading hours of the bars: extended (what Alpaca serves) or regular (09:30-16:00 New York, built from the cached 1Min bars)' -r -f -a "extended\t'What Alpaca serves: pre-market and after-hours included'
regular\t'The regular session only, 09:30-16:00 New York (13:00 on early closes)'"
complete -c barkeep -n "__fish_barkeep_using_subcommand fetch" -l from -d 'Build the timeframe from this cached finer timeframe (1Min) instead of asking Alpaca for it' -r
complete -c barkeep -n "__fish_barkeep_using_subcommand fetch" -l cache-dir -d 'The cache directory [default: the user cache directory]' -r -f -a "(__fish_complete_directories)"
complete -c barkeep -n "__fish_barkeep_using_subcommand fetch" -l color -d 'When to use colour on stderr (NO_COLOR is honoured)' -r -f -a "auto\t'Colour when stderr is a terminal and NO_COLOR is not set'
always\t'Always colour stderr, even into a pipe or file'
never\t'Never colour'"
complete -c barkeep -n "__fish_barkeep_using_subcommand fetch" -l api-url -d 'Alpaca\'s market-data base URL' -r -f
complete -c barkeep -n "__fish_barkeep_using_subcommand fetch" -l rate-limit -d 'Requests per minute at most (Alpaca\'s free plan allows 200)' -r
complete -c barkeep -n "__fish_barkeep_using_subcommand fetch" -l force -d 'Replace the --output FILE even when it is read-only (it stays read-only)'
complete -c barkeep -n "__fish_barkeep_using_subcommand fetch" -l offline -d 'Do not use the network: serve what the cache holds, up to each series\' last update'
complete -c barkeep -n "__fish_barkeep_using_subcommand fetch" -s q -l quiet -d 'Print less: no progress or notes (errors still show)'
complete -c barkeep -n "__fish_barkeep_using_subcommand fetch" -s v -l verbose -d 'Print a log of every request to Alpaca on stderr; repeat (-vv) for response headers'
complete -c barkeep -n "__fish_barkeep_using_subcommand fetch" -l no-progress -d 'Never draw progress bars (they only ever appear when stderr is a terminal)'
complete -c barkeep -n "__fish_barkeep_using_subcommand fetch" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c barkeep -n "__fish_barkeep_using_subcommand update" -s t -l timeframe -d 'Timeframes to update; repeat for several [default: those cached, else 1Day]' -r
complete -c barkeep -n "__fish_barkeep_using_subcommand update" -l symbols-file -d 'Read symbols from FILE, one per line (`#` comments and blank lines ignored; `-` is stdin)' -r -F
complete -c barkeep -n "__fish_barkeep_using_subcommand update" -l start -d 'Where series that are not cached yet start [default: 1y]' -r
complete -c barkeep -n "__fish_barkeep_using_subcommand update" -l feed -d 'Stock feed [default: every cached feed; sip for new series]' -r -f -a "sip\t'All US exchanges (the consolidated tape)'
iex\t'Investors Exchange only'
otc\t'Over-the-counter'
boats\t'Blue Ocean ATS (overnight)'"
complete -c barkeep -n "__fish_barkeep_using_subcommand update" -l universe -d 'Update every asset of CLASS in Alpaca\'s assets list (active ones; see --include-inactive)' -r -f -a "us_equity\t'US stocks and ETFs'
crypto\t'Crypto pairs'"
complete -c barkeep -n "__fish_barkeep_using_subcommand update" -l exchange -d 'With --universe, only assets listed on these exchanges (comma-separated, e.g. NYSE,NASDAQ)' -r
complete -c barkeep -n "__fish_barkeep_using_subcommand update" -l report -d 'Print a machine-readable report on stdout' -r -f -a "json\t''"
complete -c barkeep -n "__fish_barkeep_using_subcommand update" -l cache-dir -d 'The cache directory [default: the user cache directory]' -r -f -a "(__fish_complete_directories)"
complete -c barkeep -n "__fish_barkeep_using_subcommand update" -l color -d 'When to use colour on stderr (NO_COLOR is honoured)' -r -f -a "auto\t'Colour when stderr is a terminal and NO_COLOR is not set'
always\t'Always colour stderr, even into a pipe or file'
never\t'Never colour'"
complete -c barkeep -n "__fish_barkeep_using_subcommand update" -l api-url -d 'Alpaca\'s market-data base URL' -r -f
complete -c barkeep -n "__fish_barkeep_using_subcommand update" -l rate-limit -d 'Requests per minute at most (Alpaca\'s free plan allows 200)' -r
complete -c barkeep -n "__fish_barkeep_using_subcommand update" -l include-inactive -d 'With --universe, also the assets no longer active (delisted), for their history'
complete -c barkeep -n "__fish_barkeep_using_subcommand update" -l dry-run -d 'Print the plan (series, ranges, estimated requests) and make no request'
complete -c barkeep -n "__fish_barkeep_using_subcommand update" -l no-wait -d 'Exit 1 at once if another barkeep run holds a series\' lock, instead of waiting'
complete -c barkeep -n "__fish_barkeep_using_subcommand update" -s q -l quiet -d 'Print less: no progress or notes (errors still show)'
complete -c barkeep -n "__fish_barkeep_using_subcommand update" -s v -l verbose -d 'Print a log of every request to Alpaca on stderr; repeat (-vv) for response headers'
complete -c barkeep -n "__fish_barkeep_using_subcommand update" -l no-progress -d 'Never draw progress bars (they only ever appear when stderr is a terminal)'
complete -c barkeep -n "__fish_barkeep_using_subcommand update" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c barkeep -n "__fish_barkeep_using_subcommand inspect" -s t -l timeframe -d 'Only these timeframes; repeat for several' -r
complete -c barkeep -n "__fish_barkeep_using_subcommand inspect" -l feed -d 'Only this stock feed' -r -f -a "sip\t'All US exchanges (the consolidated tape)'
iex\t'Investors Exchange only'
otc\t'Over-the-counter'
boats\t'Blue Ocean ATS (overnight)'"
complete -c barkeep -n "__fish_barkeep_using_subcommand inspect" -l format -d 'Output format [default: table on a terminal, csv otherwise]' -r -f -a "table\t''
json\t''
csv\t''"
complete -c barkeep -n "__fish_barkeep_using_subcommand inspect" -l start -d 'First date (YYYY-MM-DD, New York) for --calendar or --gaps [default: --calendar: today]' -r
complete -c barkeep -n "__fish_barkeep_using_subcommand inspect" -l end -d 'Last date, inclusive, for --calendar or --gaps [default: --calendar: 2 weeks after --start]' -r
complete -c barkeep -n "__fish_barkeep_using_subcommand inspect" -l cache-dir -d 'The cache directory [default: the user cache directory]' -r -f -a "(__fish_complete_directories)"
complete -c barkeep -n "__fish_barkeep_using_subcommand inspect" -l color -d 'When to use colour on stderr (NO_COLOR is honoured)' -r -f -a "auto\t'Colour when stderr is a terminal and NO_COLOR is not set'
always\t'Always colour stderr, even into a pipe or file'
never\t'Never colour'"
complete -c barkeep -n "__fish_barkeep_using_subcommand inspect" -l api-url -d 'Alpaca\'s market-data base URL' -r -f
complete -c barkeep -n "__fish_barkeep_using_subcommand inspect" -l rate-limit -d 'Requests per minute at most (Alpaca\'s free plan allows 200)' -r
complete -c barkeep -n "__fish_barkeep_using_subcommand inspect" -l verify -d 'Read every file whole and check it: a regular file (not a link or a directory), readable Parquet with the expected schema, sorted, one row per timestamp, rows inside the recorded coverage; also report rollback journals whose series file is gone and corporate-actions ledgers that cannot be read; exit 1 if anything is wrong'
complete -c barkeep -n "__fish_barkeep_using_subcommand inspect" -l gaps -d 'List the market sessions inside each stock series\' coverage that hold no bar at all'
complete -c barkeep -n "__fish_barkeep_using_subcommand inspect" -l calendar -d 'Print the US equity market calendar from --start to --end instead of the cache: sessions (extended and regular hours), early closes and holidays, 2016 to 2030'
complete -c barkeep -n "__fish_barkeep_using_subcommand inspect" -l assets -d 'Print the cached assets lists of `update --universe` instead of the series: symbol, name, exchange, status and asset class (only the SYMBOLs named, when any)'
complete -c barkeep -n "__fish_barkeep_using_subcommand inspect" -s q -l quiet -d 'Print less: no progress or notes (errors still show)'
complete -c barkeep -n "__fish_barkeep_using_subcommand inspect" -s v -l verbose -d 'Print a log of every request to Alpaca on stderr; repeat (-vv) for response headers'
complete -c barkeep -n "__fish_barkeep_using_subcommand inspect" -l no-progress -d 'Never draw progress bars (they only ever appear when stderr is a terminal)'
complete -c barkeep -n "__fish_barkeep_using_subcommand inspect" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c barkeep -n "__fish_barkeep_using_subcommand prune" -s t -l timeframe -d 'Only these timeframes; repeat for several' -r
complete -c barkeep -n "__fish_barkeep_using_subcommand prune" -l feed -d 'Only this stock feed' -r -f -a "sip\t'All US exchanges (the consolidated tape)'
iex\t'Investors Exchange only'
otc\t'Over-the-counter'
boats\t'Blue Ocean ATS (overnight)'"
complete -c barkeep -n "__fish_barkeep_using_subcommand prune" -l before -d 'Drop bars before WHEN (YYYY-MM-DD, RFC 3339, or a span back from now such as 2y)' -r
complete -c barkeep -n "__fish_barkeep_using_subcommand prune" -l keep -d 'Keep only the last SPAN of bars (e.g. 90d, 6mo, 2y); the same as --before SPAN' -r
complete -c barkeep -n "__fish_barkeep_using_subcommand prune" -l cache-dir -d 'The cache directory [default: the user cache directory]' -r -f -a "(__fish_complete_directories)"
complete -c barkeep -n "__fish_barkeep_using_subcommand prune" -l color -d 'When to use colour on stderr (NO_COLOR is honoured)' -r -f -a "auto\t'Colour when stderr is a terminal and NO_COLOR is not set'
always\t'Always colour stderr, even into a pipe or file'
never\t'Never colour'"
complete -c barkeep -n "__fish_barkeep_using_subcommand prune" -l api-url -d 'Alpaca\'s market-data base URL' -r -f
complete -c barkeep -n "__fish_barkeep_using_subcommand prune" -l rate-limit -d 'Requests per minute at most (Alpaca\'s free plan allows 200)' -r
complete -c barkeep -n "__fish_barkeep_using_subcommand prune" -l compact -d 'Rewrite the selected series (every series when none is named) into large row groups now, instead of waiting for the automatic compaction after many small appends; no bar changes'
complete -c barkeep -n "__fish_barkeep_using_subcommand prune" -l all -d 'Remove every series in the cache (asks first on a terminal; needs --yes otherwise)'
complete -c barkeep -n "__fish_barkeep_using_subcommand prune" -l dry-run -d 'Show what would be removed and change nothing'
complete -c barkeep -n "__fish_barkeep_using_subcommand prune" -s y -l yes -d 'Do not ask for confirmation'
complete -c barkeep -n "__fish_barkeep_using_subcommand prune" -l no-wait -d 'Exit 1 at once if another barkeep run holds a series\' lock, instead of waiting'
complete -c barkeep -n "__fish_barkeep_using_subcommand prune" -s q -l quiet -d 'Print less: no progress or notes (errors still show)'
complete -c barkeep -n "__fish_barkeep_using_subcommand prune" -s v -l verbose -d 'Print a log of every request to Alpaca on stderr; repeat (-vv) for response headers'
complete -c barkeep -n "__fish_barkeep_using_subcommand prune" -l no-progress -d 'Never draw progress bars (they only ever appear when stderr is a terminal)'
complete -c barkeep -n "__fish_barkeep_using_subcommand prune" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c barkeep -n "__fish_barkeep_using_subcommand generate; and not __fish_seen_subcommand_from completions man help" -l cache-dir -d 'The cache directory [default: the user cache directory]' -r -f -a "(__fish_complete_directories)"
complete -c barkeep -n "__fish_barkeep_using_subcommand generate; and not __fish_seen_subcommand_from completions man help" -l color -d 'When to use colour on stderr (NO_COLOR is honoured)' -r -f -a "auto\t'Colour when stderr is a terminal and NO_COLOR is not set'
always\t'Always colour stderr, even into a pipe or file'
never\t'Never colour'"
complete -c barkeep -n "__fish_barkeep_using_subcommand generate; and not __fish_seen_subcommand_from completions man help" -l api-url -d 'Alpaca\'s market-data base URL' -r -f
complete -c barkeep -n "__fish_barkeep_using_subcommand generate; and not __fish_seen_subcommand_from completions man help" -l rate-limit -d 'Requests per minute at most (Alpaca\'s free plan allows 200)' -r
complete -c barkeep -n "__fish_barkeep_using_subcommand generate; and not __fish_seen_subcommand_from completions man help" -s q -l quiet -d 'Print less: no progress or notes (errors still show)'
complete -c barkeep -n "__fish_barkeep_using_subcommand generate; and not __fish_seen_subcommand_from completions man help" -s v -l verbose -d 'Print a log of every request to Alpaca on stderr; repeat (-vv) for response headers'
complete -c barkeep -n "__fish_barkeep_using_subcommand generate; and not __fish_seen_subcommand_from completions man help" -l no-progress -d 'Never draw progress bars (they only ever appear when stderr is a terminal)'
complete -c barkeep -n "__fish_barkeep_using_subcommand generate; and not __fish_seen_subcommand_from completions man help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c barkeep -n "__fish_barkeep_using_subcommand generate; and not __fish_seen_subcommand_from completions man help" -f -a "completions" -d 'Print SHELL\'s completion script, or write the scripts into --dir'
complete -c barkeep -n "__fish_barkeep_using_subcommand generate; and not __fish_seen_subcommand_from completions man help" -f -a "man" -d 'Write barkeep.1 and one page per subcommand (barkeep-fetch.1, ...) into DIR'
complete -c barkeep -n "__fish_barkeep_using_subcommand generate; and not __fish_seen_subcommand_from completions man help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c barkeep -n "__fish_barkeep_using_subcommand generate; and __fish_seen_subcommand_from completions" -l dir -d 'Write into DIR under each shell\'s usual file name (barkeep.bash, _barkeep, ...)' -r -f -a "(__fish_complete_directories)"
complete -c barkeep -n "__fish_barkeep_using_subcommand generate; and __fish_seen_subcommand_from completions" -l cache-dir -d 'The cache directory [default: the user cache directory]' -r -f -a "(__fish_complete_directories)"
complete -c barkeep -n "__fish_barkeep_using_subcommand generate; and __fish_seen_subcommand_from completions" -l color -d 'When to use colour on stderr (NO_COLOR is honoured)' -r -f -a "auto\t'Colour when stderr is a terminal and NO_COLOR is not set'
always\t'Always colour stderr, even into a pipe or file'
never\t'Never colour'"
complete -c barkeep -n "__fish_barkeep_using_subcommand generate; and __fish_seen_subcommand_from completions" -l api-url -d 'Alpaca\'s market-data base URL' -r -f
complete -c barkeep -n "__fish_barkeep_using_subcommand generate; and __fish_seen_subcommand_from completions" -l rate-limit -d 'Requests per minute at most (Alpaca\'s free plan allows 200)' -r
complete -c barkeep -n "__fish_barkeep_using_subcommand generate; and __fish_seen_subcommand_from completions" -s q -l quiet -d 'Print less: no progress or notes (errors still show)'
complete -c barkeep -n "__fish_barkeep_using_subcommand generate; and __fish_seen_subcommand_from completions" -s v -l verbose -d 'Print a log of every request to Alpaca on stderr; repeat (-vv) for response headers'
complete -c barkeep -n "__fish_barkeep_using_subcommand generate; and __fish_seen_subcommand_from completions" -l no-progress -d 'Never draw progress bars (they only ever appear when stderr is a terminal)'
complete -c barkeep -n "__fish_barkeep_using_subcommand generate; and __fish_seen_subcommand_from completions" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c barkeep -n "__fish_barkeep_using_subcommand generate; and __fish_seen_subcommand_from man" -l cache-dir -d 'The cache directory [default: the user cache directory]' -r -f -a "(__fish_complete_directories)"
complete -c barkeep -n "__fish_barkeep_using_subcommand generate; and __fish_seen_subcommand_from man" -l color -d 'When to use colour on stderr (NO_COLOR is honoured)' -r -f -a "auto\t'Colour when stderr is a terminal and NO_COLOR is not set'
always\t'Always colour stderr, even into a pipe or file'
never\t'Never colour'"
complete -c barkeep -n "__fish_barkeep_using_subcommand generate; and __fish_seen_subcommand_from man" -l api-url -d 'Alpaca\'s market-data base URL' -r -f
complete -c barkeep -n "__fish_barkeep_using_subcommand generate; and __fish_seen_subcommand_from man" -l rate-limit -d 'Requests per minute at most (Alpaca\'s free plan allows 200)' -r
complete -c barkeep -n "__fish_barkeep_using_subcommand generate; and __fish_seen_subcommand_from man" -s q -l quiet -d 'Print less: no progress or notes (errors still show)'
complete -c barkeep -n "__fish_barkeep_using_subcommand generate; and __fish_seen_subcommand_from man" -s v -l verbose -d 'Print a log of every request to Alpaca on stderr; repeat (-vv) for response headers'
complete -c barkeep -n "__fish_barkeep_using_subcommand generate; and __fish_seen_subcommand_from man" -l no-progress -d 'Never draw progress bars (they only ever appear when stderr is a terminal)'
complete -c barkeep -n "__fish_barkeep_using_subcommand generate; and __fish_seen_subcommand_from man" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c barkeep -n "__fish_barkeep_using_subcommand generate; and __fish_seen_subcommand_from help" -f -a "completions" -d 'Print SHELL\'s completion script, or write the scripts into --dir'
complete -c barkeep -n "__fish_barkeep_using_subcommand generate; and __fish_seen_subcommand_from help" -f -a "man" -d 'Write barkeep.1 and one page per subcommand (barkeep-fetch.1, ...) into DIR'
complete -c barkeep -n "__fish_barkeep_using_subcommand generate; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c barkeep -n "__fish_barkeep_using_subcommand help; and not __fish_seen_subcommand_from fetch update inspect prune generate help" -f -a "fetch" -d 'Fill the cache\'s gaps for some symbols, then print their bars'
complete -c barkeep -n "__fish_barkeep_using_subcommand help; and not __fish_seen_subcommand_from fetch update inspect prune generate help" -f -a "update" -d 'Bring cached series (or a watchlist) up to now, in as few requests as Alpaca allows'
complete -c barkeep -n "__fish_barkeep_using_subcommand help; and not __fish_seen_subcommand_from fetch update inspect prune generate help" -f -a "inspect" -d 'Show what the cache holds: one row per cached series'
complete -c barkeep -n "__fish_barkeep_using_subcommand help; and not __fish_seen_subcommand_from fetch update inspect prune generate help" -f -a "prune" -d 'Remove series, or drop old bars, from the cache'
complete -c barkeep -n "__fish_barkeep_using_subcommand help; and not __fish_seen_subcommand_from fetch update inspect prune generate help" -f -a "generate" -d 'Write shell completions or man pages (for packagers; the output is committed)'
complete -c barkeep -n "__fish_barkeep_using_subcommand help; and not __fish_seen_subcommand_from fetch update inspect prune generate help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c barkeep -n "__fish_barkeep_using_subcommand help; and __fish_seen_subcommand_from generate" -f -a "completions" -d 'Print SHELL\'s completion script, or write the scripts into --dir'
complete -c barkeep -n "__fish_barkeep_using_subcommand help; and __fish_seen_subcommand_from generate" -f -a "man" -d 'Write barkeep.1 and one page per subcommand (barkeep-fetch.1, ...) into DIR'
