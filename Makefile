# The two commands of the README:
#   make train   install missing dependencies, build, run the default training job
#   make test    install missing dependencies, build, run the whole test suite
BUILD_DIR ?= build
comma := ,
JOBS ?= 2
CMAKE_FLAGS ?=

.PHONY: all deps configure build train test format clean docs test-asan test-tsan \
        test-asan-subset asan-subset-run fuzz-build gpu-check gpu-bundle

# Sanitizer builds (docs/reliability.md), each in its own build directory.
ASAN_BUILD_DIR ?= build-asan
TSAN_BUILD_DIR ?= build-tsan
# The subset builds in the same directory as test-asan (only its targets), so either reuses the
# other's objects.
ASAN_SUBSET_DIR ?= $(ASAN_BUILD_DIR)
FUZZ_BUILD_DIR ?= build-fuzz
# CI's ASan+UBSan subset: the torch-free readers of user input (configs, overrides, checkpoint
# headers and manifests, token files, tokenizers and indexed datasets) and their fuzz corpora;
# they build without LibTorch.
ASAN_SUBSET_TARGETS = sy_keep_plugins_loaded sanitizer_leak_is_reported input_file_test \
    train_formats_test train_data_test fuzz_replay_config_loader fuzz_replay_set_override \
    fuzz_replay_safetensors fuzz_replay_manifest fuzz_replay_token_file \
    fuzz_replay_indexed_dataset fuzz_replay_sentencepiece_tokenizer
ASAN_SUBSET_TESTS = ^(input_file_test|train_formats_test|train_data_test|fuzz_replay\..*|sanitizer\..*)$$

# configure-sanitized DIR SANITIZERS
define configure-sanitized
	@cmake -S . -B $(1) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSWITCHYARD_SANITIZE=$(2) \
	  $(CMAKE_FLAGS) > $(1).configure.log 2>&1 || { cat $(1).configure.log; exit 1; }
endef

all: build

deps:
	@launch/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) \
	  > $(BUILD_DIR).configure.log 2>&1 || { cat $(BUILD_DIR).configure.log; exit 1; }
	@grep -h '^-- Switchyard:' $(BUILD_DIR).configure.log || true

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

train: build
	@launch/train.sh $(BUILD_DIR)

test: build
	@cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)
	@$(MAKE) --no-print-directory test-asan-subset

# The unit, MPI and emulated-cluster suites with AddressSanitizer + UndefinedBehaviorSanitizer (a
# full build; the cluster tests need root, as in `make test`).
test-asan: deps
	$(call configure-sanitized,$(ASAN_BUILD_DIR),address$(comma)undefined)
	@cmake --build $(ASAN_BUILD_DIR) -j $(JOBS)
	@cd $(ASAN_BUILD_DIR) && ctest -L 'unit|mpi|cluster' --output-on-failure -j $(JOBS)

# ThreadSanitizer on the comm layer's threads (tests/comm): the communicators' wait loops and
# timeouts, the exchange worker of comm.overlap_chunks, the timeout watchdog.
test-tsan: deps
	$(call configure-sanitized,$(TSAN_BUILD_DIR),thread)
	@cmake --build $(TSAN_BUILD_DIR) -j $(JOBS) --target sy_keep_plugins_loaded \
	  sanitizer_race_is_reported comm_unit_test comm_mpi_test comm_timeout_test
	@cd $(TSAN_BUILD_DIR) && ctest -R '^(comm_(unit|mpi|timeout)_test|sanitizer\.)' \
	  --output-on-failure -j $(JOBS)

# What `make test` (and so CI) adds: the ASan+UBSan subset, timed.
test-asan-subset: deps
	@start=$$(date +%s); \
	$(MAKE) --no-print-directory asan-subset-run && \
	echo "ASan+UBSan subset: $$(( $$(date +%s) - start )) s"

asan-subset-run:
	$(call configure-sanitized,$(ASAN_SUBSET_DIR),address$(comma)undefined)
	@cmake --build $(ASAN_SUBSET_DIR) -j $(JOBS) --target $(ASAN_SUBSET_TARGETS)
	@cd $(ASAN_SUBSET_DIR) && ctest -R '$(ASAN_SUBSET_TESTS)' --output-on-failure -j $(JOBS)

# The libFuzzer targets (clang): docs/reliability.md says how to run them.
fuzz-build:
	@cmake -S . -B $(FUZZ_BUILD_DIR) -G Ninja -DSWITCHYARD_FUZZ=ON -DCMAKE_C_COMPILER=clang \
	  -DCMAKE_CXX_COMPILER=clang++ > $(FUZZ_BUILD_DIR).configure.log 2>&1 \
	  || { cat $(FUZZ_BUILD_DIR).configure.log; exit 1; }
	@cmake --build $(FUZZ_BUILD_DIR) -j $(JOBS)

# On a GPU host (docs/gpu_check.md): GPU tests, short GPU training runs (dense and MoE), the
# benches and a D2D copy reference, one summary (runs/gpu-check/gpu-check-summary.md). Uses
# build/, else gpu-bundle/, else builds; needs no Debian package. Without a GPU: exit 2 at once.
# GPU_CHECK_ARGS: e.g. --out DIR, --bundle DIR, --budget SECONDS.
gpu-check:
	@launch/gpu-check.sh $(GPU_CHECK_ARGS)

# What a GPU host without Debian's -dev packages needs to run this build (gpu-bundle/, < 58 MiB):
# carry it there and run `make gpu-check`. GPU_BUNDLE_ARGS: e.g. --check (relocated check here).
gpu-bundle: build
	@launch/gpu-bundle.sh --build $(BUILD_DIR) $(GPU_BUNDLE_ARGS)

format:
	@git ls-files '*.h' '*.cc' '*.cu' | xargs clang-format -i

clean:
	@rm -rf $(BUILD_DIR)

# Refresh docs/config.md from the schema after editing core/config/experiment.proto.
docs: build
	@cp $(BUILD_DIR)/docs/config.md docs/config.md
