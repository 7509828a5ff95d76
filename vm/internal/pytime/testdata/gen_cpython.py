# Regenerates cpython.jsonl: random strftime/strptime cases run through the
# local CPython (3.11.7 when committed). Usage:
#   python3 gen_cpython.py SEED COUNT > cpython.jsonl
# Each line is {"k":"f",...} (Format: time t, layout l, output o) or
# {"k":"p",...} (Parse: value v, layout l, result r = [Y,M,D,h,m,s,us,offset|null]
# or error text e).
import datetime as D, json, random, sys

random.seed(int(sys.argv[1]))
count = int(sys.argv[2])
fdirs = "a A w d b B m y Y H I p M S f j U W c x X % e -d -m -H -I -M -S u V G".split()
pdirs = "a A w d b B m y Y H I p M S f j U W c x X % u V G z".split()
seps = ["-", " ", "/", ":", "T", ".", ", ", "  ", "x", ""]
years = [1, 2, 99, 1000, 1899, 1900, 1904, 1969, 1970, 2000, 2020, 2024, 2026, 9998, 9999]
for i in range(count):
    y = random.choice(years) if random.random() < 0.3 else random.randint(1000, 9999)
    t = D.datetime(y, random.randint(1, 12), random.randint(1, 28) if random.random() < 0.8 else 1,
                   random.randint(0, 23), random.randint(0, 59), random.randint(0, 59),
                   random.choice([0, random.randint(0, 999999)]))
    if y >= 1000:  # CPython on glibc does not pad %Y below 1000; we do
        lay = "".join("%" + random.choice(fdirs) + random.choice(seps) for _ in range(random.randint(1, 5)))
        print(json.dumps({"k": "f", "t": [t.year, t.month, t.day, t.hour, t.minute, t.second, t.microsecond],
                          "l": lay, "o": t.strftime(lay)}))
    lay = "".join("%" + random.choice(pdirs) + random.choice(seps) for _ in range(random.randint(1, 5)))
    if y < 1000 and ("%Y" in lay or "%G" in lay or "%c" in lay):
        continue
    tz = t.replace(tzinfo=D.timezone(D.timedelta(minutes=random.randint(-900, 900))))
    val = tz.strftime(lay)
    if random.random() < 0.3 and val:
        j = random.randrange(len(val))
        val = val[:j] + random.choice("0 1a:+9") + val[j + 1:]
    try:
        r = D.datetime.strptime(val, lay)
        off = None if r.tzinfo is None else int(r.utcoffset().total_seconds())
        print(json.dumps({"k": "p", "v": val, "l": lay,
                          "r": [r.year, r.month, r.day, r.hour, r.minute, r.second, r.microsecond, off]}))
    except ValueError as e:
        print(json.dumps({"k": "p", "v": val, "l": lay, "e": str(e)}))
    except Exception:
        pass  # re.error for a repeated directive: we accept those
