# dashid build. `make` builds the release tree in build/; `make test` builds an
# ASan+UBSan tree in build/san/ and runs every test; `make demo` runs the main job.
# Sources are found by wildcard so adding a file needs no edit here:
#   proto/*.c          shared by daemon and client      -> libproto.a
#   daemon/gpu/*.c     the Vulkan runtime               -> libgpu.a
#   daemon/num/*.c     the numerics (engines, host refs) -> libnum.a
#   daemon/*.c         daemon (main.c is the entry)     -> libdaemon.a + dashid
#   client/*.c         client library (dashi.c = CLI)   -> libclient.a + dashi
#   shaders/variants.txt  one line per SPIR-V module to embed (name source defines...)
#   schema/NNN_*.sql   numbered migrations, embedded
#   tests/unit/test_*.c  one cmocka binary each;  tests/e2e/*.sh  end-to-end scripts
#   tests/unit/num/test_*.c  numerics tests: linked like the benches, see NUM_LDLIBS
#   bench/*.c          one benchmark binary each (dashi-bench-NAME)
# libgpu.a and libnum.a link without libuv, msgpack-c and SQLite (the benches and the
# numerics tests prove it on every build): the numerics never reach into the service.

BUILD  ?= build
SAN    ?= 0
STATIC ?= 0
CC     ?= cc

# Debian 12 packages the build and the tests need (docs/build.md: targets, variables, tests).
APT_PACKAGES := pkg-config libvulkan-dev mesa-vulkan-drivers libvkfft-dev glslang-dev glslc \
  spirv-tools libuv1-dev libmsgpack-dev libsqlite3-dev libcmocka-dev libsodium-dev libfftw3-dev \
  libcairo2-dev fonts-dejavu-core \
  liblapack-dev libblas-dev valgrind clang libclang-rt-14-dev python3-msgpack python3-numpy chromium \
  debhelper systemd groff-base \
  slurmctld slurmd slurm-client munge
PKGS := vulkan libuv msgpack sqlite3 libsodium fftw3 cairo fontconfig cmocka

.PHONY: all deps ensure-deps test check demo bench clean fuzz install
all: $(BUILD)/dashid $(BUILD)/dashi unit-tests benches

deps:
	@if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
	  --no-install-recommends -o DPkg::Lock::Timeout=300 $(APT_PACKAGES)

# Installs the packages only when something is missing, so a fresh machine needs one command.
ensure-deps:
	@if ! pkg-config --exists $(PKGS) 2>/dev/null || ! command -v glslc >/dev/null \
	   || [ ! -f /usr/include/vkFFT.h ] || [ ! -f /usr/share/vulkan/icd.d/lvp_icd.x86_64.json ] \
	   || [ ! -f /usr/lib/x86_64-linux-gnu/liblapack.so ] || ! command -v clang >/dev/null \
	   || ! command -v valgrind >/dev/null || ! command -v chromium >/dev/null || [ ! -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] \
	   || [ ! -x /usr/sbin/slurmctld ] || [ ! -x /usr/sbin/munged ]; then \
	  echo "dashid: installing missing Debian packages (make deps)"; $(MAKE) --no-print-directory deps; fi

# The release daemon is built too: the valgrind test runs it (ASan and valgrind do not mix).
test: ensure-deps
	@$(MAKE) --no-print-directory -j$$(nproc) BUILD=build build/dashid build/dashi
	@$(MAKE) --no-print-directory -j$$(nproc) BUILD=build/san SAN=1 all fuzz
	@$(MAKE) --no-print-directory BUILD=build/san SAN=1 check

demo: ensure-deps
	@$(MAKE) --no-print-directory -j$$(nproc) all
	@tests/e2e/demo.sh $(BUILD)

bench: ensure-deps
	@$(MAKE) --no-print-directory benches

clean:
	rm -rf build

# System install (packaging/install.sh says where each file goes): make install DESTDIR=/tmp/root PREFIX=/usr
PREFIX ?= /usr/local
install: $(BUILD)/dashid $(BUILD)/dashi
	@sh packaging/install.sh "$(BUILD)" "$(DESTDIR)" "$(PREFIX)"

# ---------------------------------------------------------------- flags
WARN   := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wno-missing-field-initializers
INCS   := -Iproto -Idaemon -Idaemon/num -Idaemon/gpu -Iclient -I$(BUILD)/gen
CFLAGS_COMMON := -std=c17 -D_GNU_SOURCE -g $(WARN) $(INCS) $(shell pkg-config --cflags cairo fontconfig 2>/dev/null) -MMD -MP
ifeq ($(SAN),1)
  OPT := -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
  LDSAN := -fsanitize=address,undefined
else
  OPT := -O2
  LDSAN :=
endif
CFLAGS := $(CFLAGS_COMMON) $(OPT) $(EXTRA_CFLAGS)

ifeq ($(STATIC),1)
  # Device builds: the lent GPU machine lacks these libraries, so link their archives.
  # (Debian names the static libuv libuv_a.a; cmocka has no archive, so no tests in such builds.)
  DEP_LIBS := -Wl,-Bstatic -luv_a -lmsgpackc -lsqlite3 -lsodium -lfftw3_threads -lfftw3 -Wl,-Bdynamic \
              -lvulkan -llapack -lblas -ldl -lpthread
  CLIENT_DEP_LIBS := -lcairo -lfontconfig
  NUM_DEP_LIBS := -Wl,-Bstatic -lsodium -lfftw3_threads -lfftw3 -Wl,-Bdynamic -lvulkan -llapack -lblas -ldl -lpthread
else
  DEP_LIBS := $(shell pkg-config --libs vulkan libuv msgpack sqlite3 libsodium 2>/dev/null) -lfftw3_threads -lfftw3 \
              -llapack -lblas
  CLIENT_DEP_LIBS := $(shell pkg-config --libs cairo fontconfig 2>/dev/null)
  NUM_DEP_LIBS := $(shell pkg-config --libs vulkan libsodium 2>/dev/null) -lfftw3_threads -lfftw3 -llapack -lblas
endif
GLSLANG_LIBS := $(shell pkg-config --libs spirv glslang SPIRV-Tools 2>/dev/null)
LDLIBS := $(DEP_LIBS) $(GLSLANG_LIBS) -lstdc++ -lm -lpthread
# The figures are the client's: only dashi and the tests that link libclient.a take cairo.
CLIENT_LDLIBS := $(CLIENT_DEP_LIBS) $(LDLIBS)
# What the numerics and the Vulkan runtime may link: no libuv, msgpack-c, SQLite or cairo.
NUM_LDLIBS := $(NUM_DEP_LIBS) $(GLSLANG_LIBS) -lstdc++ -lm -lpthread

# ---------------------------------------------------------------- generated sources
VARIANTS := $(shell sed -e 's/\#.*//' -e '/^[[:space:]]*$$/d' shaders/variants.txt 2>/dev/null | awk '{print $$1}')
SPV      := $(VARIANTS:%=$(BUILD)/shaders/%.spv)
GEN_SHADERS := $(BUILD)/gen/shaders_embedded.c
GEN_SCHEMA  := $(BUILD)/gen/schema_embedded.c
SCHEMA_SQL  := $(sort $(wildcard schema/*.sql))

$(BUILD)/shaders/%.spv: shaders/variants.txt $(wildcard shaders/*.comp shaders/*.glsl)
	@mkdir -p $(@D)
	@line=$$(awk -v n="$*" '$$1==n {print}' shaders/variants.txt); set -- $$line; shift; src=$$1; shift; \
	  glslc --target-env=vulkan1.2 -O -Ishaders "$$@" -fshader-stage=compute shaders/$$src -o $@

$(GEN_SHADERS): $(SPV) shaders/embed.sh
	@mkdir -p $(@D)
	@sh shaders/embed.sh $(BUILD)/shaders $(VARIANTS) > $@.tmp && mv $@.tmp $@

$(GEN_SCHEMA): $(SCHEMA_SQL) schema/embed.sh
	@mkdir -p $(@D)
	@sh schema/embed.sh $(SCHEMA_SQL) > $@.tmp && mv $@.tmp $@

# VkFFT as shipped does not compile against glslang 12: patched copy.
$(BUILD)/vkfft/vkFFT.h: /usr/include/vkFFT.h
	@mkdir -p $(@D)
	@sed -e 's/VkCommandBuffer commandBuffer = {};/VkCommandBuffer commandBuffer = VK_NULL_HANDLE;/' \
	  -e 's|maxMeshViewCountNV = [*]/ 4,|& 256, 256, 128, 128, 128, 128, 128, 128, 4,|' $< > $@

# ---------------------------------------------------------------- objects and libraries
PROTO_SRC  := $(wildcard proto/*.c)
GPU_SRC    := $(wildcard daemon/gpu/*.c)
NUM_SRC    := $(wildcard daemon/num/*.c)
DAEMON_SRC := $(filter-out daemon/main.c,$(wildcard daemon/*.c))
CLIENT_SRC := $(filter-out client/dashi.c,$(wildcard client/*.c))
obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

$(BUILD)/obj/%.o: %.c | $(GEN_SHADERS) $(GEN_SCHEMA)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

# The one file that includes vkFFT.h: -O1 keeps its compile time sane (trap 5).
$(BUILD)/obj/daemon/gpu/fft_vkfft.o: daemon/gpu/fft_vkfft.c $(BUILD)/vkfft/vkFFT.h | $(GEN_SHADERS) $(GEN_SCHEMA)
	@mkdir -p $(@D)
	$(CC) $(filter-out -O2,$(CFLAGS)) -O1 -DVKFFT_BACKEND=0 -isystem $(BUILD)/vkfft -c $< -o $@

$(BUILD)/obj/gen/%.o: $(BUILD)/gen/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libproto.a: $(call obj,$(PROTO_SRC))
	@rm -f $@; ar rcs $@ $^
$(BUILD)/libgpu.a: $(call obj,$(GPU_SRC)) $(BUILD)/obj/gen/shaders_embedded.o
	@rm -f $@; ar rcs $@ $^
$(BUILD)/libnum.a: $(call obj,$(NUM_SRC))
	@rm -f $@; ar rcs $@ $^
$(BUILD)/libdaemon.a: $(call obj,$(DAEMON_SRC)) $(BUILD)/obj/gen/schema_embedded.o
	@rm -f $@; ar rcs $@ $^
$(BUILD)/libclient.a: $(call obj,$(CLIENT_SRC))
	@rm -f $@; ar rcs $@ $^

# In link order: each library uses only those after it.
LIBS_NUM := $(BUILD)/libnum.a $(BUILD)/libgpu.a $(BUILD)/libproto.a
LIBS_ALL := $(BUILD)/libdaemon.a $(BUILD)/libclient.a $(LIBS_NUM)

$(BUILD)/dashid: $(call obj,daemon/main.c) $(BUILD)/libdaemon.a $(LIBS_NUM)
	$(CC) $(LDSAN) -o $@ $^ $(LDLIBS)
$(BUILD)/dashi: $(call obj,client/dashi.c) $(BUILD)/libclient.a $(call obj,daemon/num/blob_tree.c) $(BUILD)/libproto.a
	$(CC) $(LDSAN) -o $@ $^ $(CLIENT_LDLIBS)

UNIT_SRC  := $(wildcard tests/unit/test_*.c)
$(BUILD)/obj/tests/unit/num/%.o: CFLAGS += -Itests/unit # the fixtures in tests/unit/*.h
UNIT_NUM_SRC := $(wildcard tests/unit/num/test_*.c)
UNIT_SVC_BIN := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
UNIT_NUM_BIN := $(patsubst tests/unit/num/%.c,$(BUILD)/tests/%,$(UNIT_NUM_SRC))
UNIT_BIN  := $(UNIT_SVC_BIN) $(UNIT_NUM_BIN)
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null)
$(UNIT_SVC_BIN): $(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(LIBS_ALL)
	@mkdir -p $(@D)
	$(CC) $(LDSAN) -o $@ $< -Wl,--start-group $(LIBS_ALL) -Wl,--end-group $(CMOCKA_LIBS) $(CLIENT_LDLIBS)
# Numerics tests link only the numerics and the runtime (libproto.a for errors and npy).
$(UNIT_NUM_BIN): $(BUILD)/tests/%: $(BUILD)/obj/tests/unit/num/%.o $(LIBS_NUM)
	@mkdir -p $(@D)
	$(CC) $(LDSAN) -o $@ $< $(LIBS_NUM) $(CMOCKA_LIBS) $(NUM_LDLIBS)
.PHONY: unit-tests benches
unit-tests: $(UNIT_BIN)

BENCH_SRC := $(wildcard bench/*.c)
BENCH_BIN := $(patsubst bench/%.c,$(BUILD)/dashi-bench-%,$(BENCH_SRC))
$(BUILD)/dashi-bench-%: $(call obj,bench/%.c) $(LIBS_NUM)
	$(CC) $(LDSAN) -o $@ $< $(LIBS_NUM) $(NUM_LDLIBS)
benches: $(BENCH_BIN)

# libFuzzer target for the protocol decoder (clang only; its own build flags).
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRC))
$(BUILD)/fuzz/%: tests/fuzz/%.c $(PROTO_SRC)
	@mkdir -p $(@D)
	clang -std=c17 -D_GNU_SOURCE -g -O1 $(WARN) $(INCS) -fsanitize=fuzzer,address,undefined \
	  -o $@ $^ $(shell pkg-config --libs msgpack libsodium 2>/dev/null) -lm
fuzz: $(FUZZ_BIN)

check: all fuzz
	@tests/run.sh $(BUILD)

.SECONDARY:

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
