# The two commands of the README: `make test` and `make demo`.
# Both install what is missing first (scripts/install-deps.sh), then build.
#   make build   Release build (-O3, -Werror) in build/ (binaries in build/bin/)
#   make asan    ASan+UBSan build in build-asan/
#   make test    both builds, every unit and end-to-end test in each
#   make demo    the whole system locally, see README
#   make bench   wrk against the gateway, nginx and the mock (see bench/)
#   make check   source checks (banned functions)
BUILD ?= build
ASAN_BUILD ?= build-asan
JOBS ?= $(shell nproc)
CTEST_JOBS ?= 2

.PHONY: all deps build asan test test-release test-asan demo bench check clean node-deps

all: build

deps:
	@bash scripts/install-deps.sh

node-deps:
	@bash scripts/install-node-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

asan: deps
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DMM_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)

test-release: build node-deps check
	cd $(BUILD) && ctest --output-on-failure -j $(CTEST_JOBS)

# Heavy load tests (label "heavy") run in the release build only.
test-asan: asan node-deps
	cd $(ASAN_BUILD) && ctest --output-on-failure -j $(CTEST_JOBS) -LE heavy

test: test-release test-asan

demo: build
	@bash scripts/demo.sh

bench: build
	@bash scripts/install-deps.sh --bench
	@bash bench/run.sh

check:
	@bash scripts/check-src.sh

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
