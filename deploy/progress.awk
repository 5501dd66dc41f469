# Turns the output of apt-get and ninja into "what it is doing, how far along":
#   awk -v phase=apt|ninja [-v tty=1] -f deploy/progress.awk
# Lines it does not recognise (compiler errors, warnings, apt's questions)
# pass through unchanged, so a failure still shows why. On a terminal
# (tty=1) the progress line is rewritten in place; otherwise a line is
# printed every 10% (and for every apt package), which reads well in a log.

function show(text) {
  if (tty) {
    printf "\r\033[K%s", text
    pending = 1
  } else {
    print text
  }
  fflush()
}

function pass(line) {
  if (pending) { printf "\n"; pending = 0 }
  print line
  fflush()
}

BEGIN { total = 0; done = 0; step = -1 }

phase == "ninja" && match($0, /^\[[0-9]+\/[0-9]+\] /) {
  split(substr($0, 2, RLENGTH - 3), nN, "/")
  n = nN[1] + 0; N = nN[2] + 0
  what = substr($0, RLENGTH + 1)
  sub(/^Building CXX object /, "compiling ", what)
  sub(/^Linking CXX (executable|static library) /, "linking ", what)
  sub(/CMakeFiles\/[^\/]*\.dir\//, "", what)
  sub(/\.o$/, "", what)
  pct = N > 0 ? int(100 * n / N) : 0
  if (tty || int(pct / 10) != step || n == N) {
    step = int(pct / 10)
    show(sprintf("build [%d/%d] %3d%%  %s", n, N, pct, what))
  }
  next
}

phase == "ninja" && /^ninja: no work to do/ { show("build: up to date"); next }

phase == "apt" && match($0, /[0-9]+ newly installed/) {
  total = substr($0, RSTART, RLENGTH) + 0
  show(sprintf("apt: %d package(s) to install", total))
  next
}
phase == "apt" && /^Get:[0-9]+ / {
  show(sprintf("apt: downloading %s (%s)", $5, $1)); next
}
phase == "apt" && /^Unpacking / {
  show(sprintf("apt: unpacking %s", $2)); next
}
phase == "apt" && /^Setting up / {
  done++
  show(total > 0 ? sprintf("apt [%d/%d] setting up %s", done, total, $3) : sprintf("apt: setting up %s", $3))
  next
}
# apt's chatter that says nothing a newcomer needs.
phase == "apt" && /^(Reading|Building|Selecting|Preparing|Processing|Need to get|After this|The following|  |Fetched|debconf|\(Reading)/ { next }

{ pass($0) }

END { if (pending) printf "\n" }
