# plumb's entry points. `make run` and `make test` install missing system packages first
# (scripts/setup.sh), then configure and build in build/ with CMake and Ninja.
BUILD ?= build
ASAN_BUILD ?= build-asan
JOBS ?= $(shell nproc)
CTEST_JOBS ?= 2

CONFIGURE = cmake -S . -G Ninja
RELEASE_FLAGS = -DCMAKE_BUILD_TYPE=Release
ASAN_FLAGS = -DPLUMB_SANITIZE=ON -DPLUMB_BENCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo

.PHONY: build run test sanitize bench setup clean help
.DEFAULT_GOAL := build

help:
	@echo "make run       build, then run the workload suite in quick mode: $(BUILD)/suite/index.html"
	@echo "make test      build, then run every CTest test (ctest -j$(CTEST_JOBS))"
	@echo "make sanitize  ASan+UBSan build in $(ASAN_BUILD)/, then the unit and ops tests"
	@echo "make bench     build with benchmarks, then run them (the bench target; see bench/README.md)"
	@echo "make build     configure and build in $(BUILD)/ (the default)"
	@echo "make setup     install missing system packages (scripts/setup.sh)"
	@echo "make clean     remove $(BUILD)/ and $(ASAN_BUILD)/"

# Runs scripts/setup.sh only when a package is missing, so an up-to-date machine needs no root.
setup:
	@scripts/setup.sh --check || scripts/setup.sh

build: setup
	$(CONFIGURE) -B $(BUILD) $(RELEASE_FLAGS)
	cmake --build $(BUILD) -j $(JOBS)

run: build
	$(BUILD)/plumb suite --quick -o $(BUILD)/suite

test: build
	ctest --test-dir $(BUILD) --output-on-failure -j$(CTEST_JOBS)

sanitize: setup
	$(CONFIGURE) -B $(ASAN_BUILD) $(ASAN_FLAGS)
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	UBSAN_OPTIONS=print_stacktrace=1 ctest --test-dir $(ASAN_BUILD) --output-on-failure -j$(CTEST_JOBS) -L 'unit|ops'

bench: setup
	$(CONFIGURE) -B $(BUILD) $(RELEASE_FLAGS) -DPLUMB_BENCH=ON
	cmake --build $(BUILD) -j $(JOBS) --target bench

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
