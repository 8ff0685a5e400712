# The two commands of the README:
#   make train   install missing dependencies, build, run the default training job
#   make test    install missing dependencies, build, run the whole test suite
BUILD_DIR ?= build
JOBS ?= 2
CMAKE_FLAGS ?=

.PHONY: all deps configure build train test format clean docs

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

format:
	@git ls-files '*.h' '*.cc' '*.cu' | xargs clang-format -i

clean:
	@rm -rf $(BUILD_DIR)

# Refresh docs/config.md from the schema after editing core/config/experiment.proto.
docs: build
	@cp $(BUILD_DIR)/docs/config.md docs/config.md
