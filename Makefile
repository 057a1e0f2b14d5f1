# Installs plasma-store, plasma and plasma-bench with their man pages into a prefix:
#
#     make install                         # /usr/local (as root)
#     make install PREFIX=$HOME/.local     # your own; put $HOME/.local/bin on PATH
#     make uninstall PREFIX=...            # removes exactly what install put there
#
# The programs are built in release mode with the Swift standard library linked statically, so the
# installed binaries run without the toolchain; that build has its own scratch folder (SCRATCH), apart
# from `swift build`'s. DESTDIR stages the install for packaging, as usual. SWIFT_BUILD_FLAGS adds flags
# to that build: `--disable-default-traits` leaves out the cluster (no async-http-client, SwiftNIO).

PREFIX ?= /usr/local
SCRATCH ?= .build-install
SWIFT ?= swift
SWIFT_BUILD_FLAGS ?=
BINDIR = $(DESTDIR)$(PREFIX)/bin
MANDIR = $(DESTDIR)$(PREFIX)/share/man
PROGRAMS = plasma-store plasma plasma-bench
BUILD = $(SWIFT) build -c release --static-swift-stdlib --scratch-path $(SCRATCH) $(SWIFT_BUILD_FLAGS)

.PHONY: all build install uninstall

all: build

build:
	$(BUILD) --product plasma-store
	$(BUILD) --product plasma
	$(BUILD) --product plasma-bench

install: build
	install -d $(BINDIR) $(MANDIR)/man1 $(MANDIR)/man7
	bin="$$($(BUILD) --show-bin-path)" && for program in $(PROGRAMS); do \
		install -m 0755 "$$bin/$$program" $(BINDIR)/$$program; done
	install -m 0644 man/*.1 $(MANDIR)/man1/
	install -m 0644 man/*.7 $(MANDIR)/man7/
	@echo "installed $(PROGRAMS) into $(BINDIR) and their man pages into $(MANDIR)"

uninstall:
	for program in $(PROGRAMS); do rm -f $(BINDIR)/$$program; done
	for page in man/*.1; do rm -f $(MANDIR)/man1/$${page#man/}; done
	for page in man/*.7; do rm -f $(MANDIR)/man7/$${page#man/}; done
