# CDR top-level Makefile: a thin wrapper over CMake/ctest.
# Every target first makes sure the Debian packages are installed
# (scripts/install-deps.sh) and the build is current.
#
#   make / make test / make demo / make install   the normal build (gcc, -Werror)
#   make test-sanitize   the whole test suite under ASan + UBSan (clang), in $(ASAN_BUILD)
#   make test-tsan       the concurrency tests under ThreadSanitizer (clang), in $(TSAN_BUILD)
#   make fuzz            every libFuzzer target for FUZZ_SECONDS each (clang), in $(FUZZ_BUILD);
#                        FUZZ_TARGETS="fuzz_sql fuzz_csv" runs only those
#   make fuzz-seeds      regenerate the seed corpora in tests/fuzz/corpus
#   make measurement     the expected sim measurement of this tree (a reproducible build of
#                        cdr-enclave in build-measure/, with build-info.txt beside it)
#   make bench           the benchmark (bench/README.md): prints a table, writes bench/results.json;
#                        BENCH_QUICK=1 for small sizes (a check that it runs), other BENCH_* knobs in bench/run.sh

BUILD ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
FUZZ_BUILD ?= build-fuzz
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
PREFIX ?= /usr/local
FUZZ_SECONDS ?= 60
FUZZ_JOBS ?= $(JOBS)
FUZZ_TARGETS ?=

# Any sanitizer report fails the run (tests/integration/lib.sh adds a
# log_path per test, so reports of server processes are seen too).
SANITIZER_ENV = ASAN_OPTIONS=halt_on_error=1:abort_on_error=1:detect_leaks=1:detect_stack_use_after_return=1:strict_string_checks=1:check_initialization_order=1 \
                UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1

.PHONY: all deps configure build test demo install clean test-sanitize test-tsan fuzz fuzz-build fuzz-seeds bench measurement

all: build

deps:
	@bash scripts/install-deps.sh

$(BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD) -DCMAKE_INSTALL_PREFIX=$(PREFIX) >/dev/null

configure: deps $(BUILD)/CMakeCache.txt

build: configure
	cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# The demo needs only the four programs: build those, quietly (the
# build's own output goes to $(BUILD)/demo-build.log unless it fails).
demo: configure
	@cmake --build $(BUILD) -j $(JOBS) --target cdr cdrd cdr-enclave cdr-witness >$(BUILD)/demo-build.log 2>&1 \
	  || { cat $(BUILD)/demo-build.log; exit 1; }
	@bash scripts/demo.sh

# PREFIX and DESTDIR are honoured on every call, whatever prefix the
# build folder was first configured with.
install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

test-sanitize: deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_C_COMPILER=clang -DCDR_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && $(SANITIZER_ENV) ctest --output-on-failure -j $(JOBS)

# ThreadSanitizer over the tests that run the enclave's lanes concurrently
# (the whole suite under TSan is too slow for CI on 2 cores).  cdrd and the
# clients get TSAN_OPTIONS; the enclave has its own defaults (main.c).
TSAN_TESTS ?= unit/test_session|unit/test_gate|unit/test_pagevfs|unit/test_engine_lanes|integration/test_concurrency|integration/test_flow|integration/test_audit$$|integration/test_revoke|integration/test_contract_sign|integration/test_room_members|integration/test_contract_binding|integration/test_templates|integration/test_rules_dp|integration/test_witness_start|integration/test_witness_rollback|integration/test_startup_load
TSAN_ENV = TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
test-tsan: deps
	cmake -S . -B $(TSAN_BUILD) -DCMAKE_C_COMPILER=clang -DCDR_TSAN=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build $(TSAN_BUILD) -j $(JOBS)
	cd $(TSAN_BUILD) && $(TSAN_ENV) ctest --output-on-failure -j $(JOBS) -R '$(TSAN_TESTS)'

fuzz-build: deps
	cmake -S . -B $(FUZZ_BUILD) -DCMAKE_C_COMPILER=clang -DCDR_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzzers

fuzz: fuzz-build
	bash tests/fuzz/run-fuzzers.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_JOBS) $(FUZZ_TARGETS)

fuzz-seeds: build
	$(BUILD)/fuzz/fuzz_mkseeds tests/fuzz/corpus tests/data/attest

measurement: deps
	@bash scripts/measurement.sh

bench: build
	bash bench/run.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD) build-measure
