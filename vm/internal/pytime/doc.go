// Package pytime implements Python's time.strftime and datetime.strptime
// format codes for Go [time.Time] values, as AVAP's date commands
// (getDateTime, getTimeStamp, stampToDatetime) expect them.
//
// [Format] follows CPython on Linux in the C/POSIX locale: English day and
// month names, %c = "%a %b %e %H:%M:%S %Y", %x = "%m/%d/%y", %X = "%H:%M:%S".
// Supported directives:
//
//	%a %A %w %u           weekday name (short, full), number (Sunday=0), ISO number (Monday=1)
//	%d %e %j              day of month (zero-, space-padded), day of year
//	%b %h %B %m           month name (short, full), number
//	%y %Y %C              year without century, with century (4 digits), century
//	%G %g %V              ISO 8601 year (4 digits, 2 digits) and week
//	%U %W                 week of year, weeks starting Sunday, Monday
//	%H %I %k %l %p %P     hour (24, 12, space-padded 24 and 12), AM/PM, am/pm
//	%M %S %f              minute, second, microsecond (6 digits)
//	%z %:z %Z             UTC offset (+HHMM[SS], +HH:MM[:SS]), zone abbreviation
//	%s                    Unix seconds
//	%c %x %X %D %F %T %R %r   composites
//	%n %t %%              newline, tab, percent
//
// The glibc flags '-' (no padding, as in %-d or %-H) and '_' (pad with
// spaces) apply to every numeric directive. Any other directive is an error
// that names it; Python would pass it to the C library unchanged.
//
// [Parse] follows CPython's _strptime: whitespace in the layout matches one
// or more whitespace characters, names and AM/PM match case-insensitively,
// numbers match without leading zeros, the whole value must be consumed, and
// missing fields default to 1900-01-01 00:00:00. Errors carry CPython's
// messages ("time data '...' does not match format '...'", "unconverted data
// remains: ..."). Parse also accepts the glibc-only directives Format supports
// except %C %g %n %t (CPython rejects %e, %-d and friends; here they parse
// like their padded forms, and %s reads Unix seconds). %Z matches only "UTC",
// "GMT" and the abbreviations of the location passed in.
//
// Differences from CPython, all outside its range of behaviour: Go times
// always carry a zone, so a naive result is placed in the caller's location
// and %z/%Z print that location's offset and name rather than nothing; years
// outside 1..9999 format without error; a repeated directive in a Parse layout
// is allowed (the last one wins) where CPython raises re.error; UTC offsets
// parse to whole seconds (CPython keeps microseconds); \d and \s match ASCII
// digits and whitespace only.
package pytime
