"""The Python 2 names of `past.builtins` that course code uses, as Python 3 has them."""
xrange = range
basestring = str
unicode = str
long = int
unichr = chr
raw_input = input
