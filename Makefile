# shipworm — Teredo for Linux. GNU make.
#
#   make            build/shipwormd and build/shipworm
#   make check      unit tests and fuzz smoke under ASan+UBSan, the Debian package in a
#                   throwaway root, then the namespace lab (two tests at a time: LAB_JOBS)
#   make fuzz       each fuzz target for FUZZ_SECONDS (default 300)
#   make bench      side-by-side measurements against Miredo
#   make interop    the NAT matrix against Miredo (writes docs/interop.md)
#   make lab-full   the lab with every scenario also with FastPath off, two tests at a time
#   make lab-6.1    the server, client and relay scenarios (and two on one host) on Debian 12's kernel, in a VM
#   make demo       the live demo in a namespace lab
#   make install    binaries, man pages, systemd units (PREFIX, DESTDIR)
#   make deb        the Debian package (build/shipworm_VERSION_ARCH.deb), lintian-checked
#   make deb-test   that package installed into a throwaway root, checked, purged

SHELL   := /bin/bash
CC      ?= cc
CLANG   ?= clang
PREFIX  ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
UNITDIR ?= /lib/systemd/system
VERSION := 0.1.0

WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter
CFLAGS  ?= -O2 -g
CPPFLAGS += -D_GNU_SOURCE -DSHIPWORM_VERSION='"$(VERSION)"' -Isrc
ALLCFLAGS = -std=c11 $(WARN) $(CFLAGS) $(CPPFLAGS)
LIBS    := -lmnl -lcap -lseccomp -lminiupnpc -lbpf
BPFTOOL ?= bpftool

SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
SANFLAGS = -std=c11 $(WARN) -O1 -g $(SAN) $(CPPFLAGS)

WIRE_SRCS := $(wildcard src/wire/*.c)
CORE_SRCS := $(wildcard src/core/*.c)
SYS_SRCS  := $(wildcard src/sys/*.c)
PURE_SRCS := $(WIRE_SRCS) $(CORE_SRCS)
CONF_SRCS := src/conf/config.c
# The control socket's pure parts (request grammar, answer writer), fuzzed too.
CTL_SRCS  := src/sys/control_req.c src/sys/status_fmt.c src/sys/status_peers.c src/sys/peers_page.c
D_SRCS    := src/cmd/shipwormd.c $(CONF_SRCS) $(PURE_SRCS) $(SYS_SRCS)
T_SRCS    := src/cmd/shipworm.c $(WIRE_SRCS) src/sys/control.c src/sys/control_req.c src/sys/status_fmt.c src/sys/peers_page.c src/sys/log.c
HDRS      := $(shell find src -name '*.h')
# The kernel fast path (issue 10): one .bpf.c per hook in src/bpf, compiled with clang
# -target bpf against the kernel's UAPI headers, each turned into a libbpf skeleton
# (build/bpf/NAME.skel.h) that src/sys/fastpath.c embeds.
BPF_PROGS := $(patsubst src/bpf/%.bpf.c,%,$(wildcard src/bpf/*.bpf.c))
BPF_SKELS := $(addprefix build/bpf/,$(addsuffix .skel.h,$(BPF_PROGS)))
BPF_CFLAGS := -g -O2 -Wall -ffreestanding -target bpf -mcpu=v3 -I/usr/include/$(shell gcc -dumpmachine) -Isrc
CPPFLAGS += -Ibuild/bpf

UNIT_TESTS := $(patsubst tests/unit/%.c,%,$(wildcard tests/unit/test_*.c))
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_SECONDS ?= 300
FUZZ_SMOKE_SECONDS ?= 3

.PHONY: all check unit fuzz fuzz-smoke lab lab-full lab-6.1 kernel-check bench demo install install-files clean deps deps-test deps-deb interop deb deb-test

all: build/shipwormd build/shipworm

build/bpf/%.bpf.o: src/bpf/%.bpf.c src/bpf/*.h
	@mkdir -p build/bpf
	$(CLANG) $(BPF_CFLAGS) -c -o $@ $<
build/bpf/%.skel.h: build/bpf/%.bpf.o
	$(BPFTOOL) gen skeleton $< name $* > $@.tmp && mv $@.tmp $@

build/shipwormd: $(D_SRCS) $(HDRS) $(BPF_SKELS) | build
	$(CC) $(ALLCFLAGS) -o $@ $(D_SRCS) $(LIBS)
build/shipworm: $(T_SRCS) $(HDRS) | build
	$(CC) $(ALLCFLAGS) -o $@ $(T_SRCS)

# The same programs under ASan and UBSan, for the lab tests of `make check`.
build/san/shipwormd: $(D_SRCS) $(HDRS) $(BPF_SKELS) | build/san
	$(CC) $(SANFLAGS) -o $@ $(D_SRCS) $(LIBS)
build/san/shipworm: $(T_SRCS) $(HDRS) | build/san
	$(CC) $(SANFLAGS) -o $@ $(T_SRCS)

build build/san build/unit build/fuzz:
	mkdir -p $@

# The pure core, the config parser and the control socket's pure parts, compiled once
# per flavour (sanitizers for the unit tests, libFuzzer's instrumentation for the fuzz
# targets) and linked into every test binary.
TEST_SRCS := $(PURE_SRCS) $(CONF_SRCS) $(CTL_SRCS)
SAN_OBJS  := $(patsubst src/%.c,build/obj/san/%.o,$(TEST_SRCS))
FUZZ_OBJS := $(patsubst src/%.c,build/obj/fuzz/%.o,$(TEST_SRCS))
FUZZFLAGS := -std=c11 -g -O1 -fsanitize=address,undefined -fno-sanitize-recover=all $(CPPFLAGS)
build/obj/san/%.o: src/%.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(SANFLAGS) -c -o $@ $<
build/obj/fuzz/%.o: src/%.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CLANG) $(FUZZFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

# The fast path's programs through BPF_PROG_TEST_RUN, with their loader (issue 10).
BPF_LOADER := src/sys/fastpath.c src/sys/fastpath_srv.c src/sys/netlink.c
build/unit/test_bpf build/unit/test_bpf_srv: build/unit/%: tests/unit/%.c $(BPF_LOADER) $(SAN_OBJS) $(HDRS) $(BPF_SKELS) tests/unit/*.h | build/unit
	$(CC) $(SANFLAGS) -Itests/unit -o $@ $< $(BPF_LOADER) $(SAN_OBJS) -lcmocka -lbpf -lmnl

# The send batches' UDP GSO rows, through real sockets on loopback.
build/unit/test_udp: tests/unit/test_udp.c src/sys/udp.c $(SAN_OBJS) $(HDRS) tests/unit/*.h | build/unit
	$(CC) $(SANFLAGS) -Itests/unit -o $@ $< src/sys/udp.c $(SAN_OBJS) -lcmocka

# The control socket's grammar and its serving, through a real socket in /tmp.
build/unit/test_control: tests/unit/test_control.c src/sys/control.c src/sys/log.c $(SAN_OBJS) $(HDRS) tests/unit/*.h | build/unit
	$(CC) $(SANFLAGS) -Itests/unit -o $@ $< src/sys/control.c src/sys/log.c $(SAN_OBJS) -lcmocka

# Unit tests: cmocka, one binary per file, linked with the pure core and the config parser.
build/unit/%: tests/unit/%.c $(SAN_OBJS) $(HDRS) tests/unit/*.h | build/unit
	$(CC) $(SANFLAGS) -Itests/unit -o $@ $< $(SAN_OBJS) -lcmocka

unit: $(addprefix build/unit/,$(UNIT_TESTS))
	@fail=0; for t in $(UNIT_TESTS); do \
		ASAN_OPTIONS=detect_leaks=1 build/unit/$$t 2>&1 | tee build/unit/$$t.log; \
		[ $${PIPESTATUS[0]} -eq 0 ] || fail=1; \
	done; \
	awk '/^\[  PASSED  \]/ { p += $$4 } /^\[  FAILED  \] [0-9]+ test/ { f += $$4 } \
		END { printf "unit %d %d\n", p, f >> "build/check.tally"; printf "unit: %d passed, %d failed\n", p, f }' \
		build/unit/*.log; \
	exit $$fail

# libFuzzer targets (clang), with ASan and UBSan.
build/fuzz/%: tests/fuzz/%.c $(FUZZ_OBJS) $(HDRS) $(wildcard tests/fuzz/*.h) | build/fuzz
	$(CLANG) $(FUZZFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_OBJS)
# The fast path's programs against the cores, through BPF_PROG_TEST_RUN (root).
build/fuzz/fuzz_bpf build/fuzz/fuzz_bpf_srv: build/fuzz/%: tests/fuzz/%.c $(BPF_LOADER) $(FUZZ_OBJS) $(HDRS) $(BPF_SKELS) tests/unit/frames.h tests/fuzz/fuzz_qualify.h | build/fuzz
	$(CLANG) $(FUZZFLAGS) -fsanitize=fuzzer -Itests/unit -o $@ $< $(BPF_LOADER) $(FUZZ_OBJS) -lbpf -lmnl

fuzz-smoke: $(addprefix build/fuzz/,$(FUZZ_TARGETS))
	@for t in $(FUZZ_TARGETS); do \
		mkdir -p build/fuzz/corpus-$$t; \
		echo "fuzz $$t: $(FUZZ_SMOKE_SECONDS) s"; \
		build/fuzz/$$t -max_total_time=$(FUZZ_SMOKE_SECONDS) -print_final_stats=1 \
			build/fuzz/corpus-$$t tests/fuzz/corpus/$$t 2>build/fuzz/$$t.log \
			|| { tail -n 40 build/fuzz/$$t.log; exit 1; }; \
		grep -E 'stat::number_of_executed_units' build/fuzz/$$t.log; \
		echo "fuzz 1 0" >> build/check.tally; \
	done

fuzz: $(addprefix build/fuzz/,$(FUZZ_TARGETS))
	@for t in $(FUZZ_TARGETS); do \
		mkdir -p build/fuzz/corpus-$$t; \
		build/fuzz/$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
			build/fuzz/corpus-$$t tests/fuzz/corpus/$$t || exit 1; \
	done

deps:
	scripts/deps.sh build
deps-test:
	scripts/deps.sh test

# The lab's hostile traffic generator (spoofed floods, malformed packets).
build/lab/flood: tests/lab/flood.c $(WIRE_SRCS) $(HDRS)
	@mkdir -p build/lab
	$(CC) $(ALLCFLAGS) -o $@ tests/lab/flood.c $(WIRE_SRCS)

# An operator's own tc filter and XDP program, which the fast path must leave working.
build/lab/%.bpf.o: tests/lab/%.bpf.c
	@mkdir -p build/lab
	$(CLANG) $(filter-out -Isrc,$(BPF_CFLAGS)) -c $< -o $@

LAB_BINS := build/san/shipwormd build/san/shipworm build/shipwormd build/shipworm build/lab/flood \
	build/lab/op_drop_ping.bpf.o build/lab/op_xdp_pass.bpf.o

# Two tests at a time (the flood alone): they wait far more than they compute, and two at
# a time halves the lab's 11-12 minutes, which kept make check within 1.5 minutes of its 15.
LAB_JOBS ?= 2
lab: $(LAB_BINS)
	@mkdir -p build
	LAB_JOBS=$(LAB_JOBS) tests/lab/run.sh 2>&1 | tee build/lab.log; r=$${PIPESTATUS[0]}; \
	sed -n 's/^lab: \([0-9]*\) passed, \([0-9]*\) failed$$/lab \1 \2/p' build/lab.log >> build/check.tally; \
	exit $$r

# Every scenario with the kernel fast path on and off, two at a time (docs/lab.md).
lab-full: $(LAB_BINS)
	LAB_FULL=1 LAB_JOBS=2 tests/lab/run.sh

# The fast path's programs on Debian 12's kernel (6.1, the oldest supported), booted in a
# virtual machine whose root is this machine's (tests/kernel/run.sh): its verifier and
# helpers judge them, not this machine's kernel.
kernel-check: build/unit/test_bpf build/unit/test_bpf_srv build/fuzz/fuzz_bpf build/fuzz/fuzz_bpf_srv
	@mkdir -p build
	tests/kernel/run.sh tests/kernel/guest.sh tests/kernel/units.sh 2>&1 | tee build/kernel.log; r=$${PIPESTATUS[0]}; \
	sed -n 's/^kernel [^ ]*: \([0-9]*\) passed, \([0-9]*\) failed$$/kernel \1 \2/p' build/kernel.log >> build/check.tally; \
	grep -q '^kernel [^ ]*: [0-9]* passed' build/kernel.log || echo "kernel 0 1" >> build/check.tally; \
	exit $$r

# The lab's server, client and relay scenarios on that kernel (about 9 minutes).
lab-6.1: deps-test $(LAB_BINS)
	tests/kernel/run.sh tests/kernel/guest.sh tests/kernel/lab.sh

# Everything make check runs, built first on every core.
CHECK_BINS := $(addprefix build/unit/,$(UNIT_TESTS)) $(addprefix build/fuzz/,$(FUZZ_TARGETS)) $(LAB_BINS)

check: deps-test
	@mkdir -p build && rm -f build/check.tally
	$(MAKE) -j$$(nproc) $(CHECK_BINS)
	$(MAKE) unit
	$(MAKE) -j2 fuzz-smoke deb-test kernel-check # one core each: the run stays well under 15 minutes
	$(MAKE) lab
	@awk '{ p += $$2; f += $$3 } END { printf "check: %d passed, %d failed\n", p, f }' build/check.tally

# The NAT matrix against Miredo (issue 9): prints the table, writes docs/interop.md.
interop: deps-test all
	INTEROP_OUT=docs/interop.md tests/lab/interop.sh

bench: deps-test all build/bench/peermem
	tests/bench/run.sh

# The relay's memory per peer (issue 10's 1 M peers): the core's table and the fast
# path's map, built with the daemon's own flags.
PEERMEM_SRCS := src/sys/fastpath.c src/sys/netlink.c src/sys/status_fmt.c src/sys/status_peers.c src/sys/peers_page.c
build/bench/peermem: tests/bench/peermem.c $(PEERMEM_SRCS) $(PURE_SRCS) $(HDRS) $(BPF_SKELS)
	@mkdir -p build/bench
	$(CC) $(ALLCFLAGS) -o $@ $< $(PEERMEM_SRCS) $(PURE_SRCS) -lbpf -lmnl

demo: deps-test all
	tests/lab/demo.sh

# Files only, into DESTDIR (the Debian package's rules use this); the units name the
# programs where SBINDIR and BINDIR put them.
install-files: all
	install -D -m 0755 build/shipwormd $(DESTDIR)$(SBINDIR)/shipwormd
	install -D -m 0755 build/shipworm $(DESTDIR)$(BINDIR)/shipworm
	install -D -m 0644 man/shipwormd.8 $(DESTDIR)$(MANDIR)/man8/shipwormd.8
	install -D -m 0644 man/shipworm.1 $(DESTDIR)$(MANDIR)/man1/shipworm.1
	install -D -m 0644 man/shipwormd.conf.5 $(DESTDIR)$(MANDIR)/man5/shipwormd.conf.5
	for u in shipwormd.service shipwormd@.service shipworm-metrics.service shipworm-metrics.timer; do \
		install -d $(DESTDIR)$(UNITDIR) && \
		sed -e 's|/usr/local/sbin|$(SBINDIR)|g' -e 's|/usr/local/bin|$(BINDIR)|g' packaging/$$u \
			>$(DESTDIR)$(UNITDIR)/$$u && chmod 0644 $(DESTDIR)$(UNITDIR)/$$u || exit 1; \
	done
	test -e $(DESTDIR)$(SYSCONFDIR)/shipwormd.conf || \
		install -D -m 0644 packaging/shipwormd.conf $(DESTDIR)$(SYSCONFDIR)/shipwormd.conf

install: install-files
	# The unprivileged user shipwormd switches to after set-up (falls back to nobody).
	[ -n "$(DESTDIR)" ] || getent passwd shipworm >/dev/null || \
		useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin shipworm

# The Debian package, built with Debian's tools (debian/), checked by lintian.
deb: deps-deb
	rm -rf build/deb && mkdir -p build/deb
	git ls-files -z -co --exclude-standard | xargs -0 cp --parents -t build/deb
	cd build/deb && dpkg-buildpackage -us -uc -b
	lintian --fail-on error,warning build/shipworm_$(VERSION)_*.deb
	@ls build/shipworm_$(VERSION)_*.deb

# Build it, install it into a throwaway root, check it, purge it (tests/pkg/test_deb.sh).
deb-test: deb
	tests/pkg/test_deb.sh build/shipworm_$(VERSION)_*.deb | tee build/deb-test.log; r=$${PIPESTATUS[0]}; \
	sed -n 's/^deb: \([0-9]*\) passed, \([0-9]*\) failed$$/deb \1 \2/p' build/deb-test.log >> build/check.tally; \
	exit $$r

deps-deb:
	scripts/deps.sh deb

clean:
	rm -rf build
