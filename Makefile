# digitnet — build, test, run.
#
#   make            library (static + shared), CLI build/digitnet, tests
#   make run        install missing packages, fetch MNIST, build, train, test, serve
#   make test       build and run the whole test suite (also: make test SAN=1)
#   make data       fetch MNIST into data/mnist (checksummed, idempotent)
#   make bench      digitnet against PyTorch/numpy on this machine (prints ratios)
#   make site       build/site/: the drawing page as static files, the network in
#                   WebAssembly (MODEL=..., SITE_WEIGHTS=fp16|fp32; docs/site.md)
#   make install PREFIX=/usr/local
#   make format     clang-format the sources; re-point the docs' line anchors
#
# Options: SAN=1 (ASan+UBSan build in build-san/), BLAS=0 (no OpenBLAS reference in
#          test_gemm and bench),
#          NATIVE=0 (no -march=native), CC=clang.

CC      ?= cc
PREFIX  ?= /usr/local
SAN     ?= 0
BLAS    ?= auto
NATIVE  ?= 1
PKG_CONFIG ?= pkg-config

VERSION := 0.3.0
SOMAJOR := 0

ifeq ($(SAN),1)
BUILD   ?= build-san
OPT     := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
else
BUILD   ?= build
OPT     := -O3 -g
endif
ifeq ($(NATIVE),1)
OPT += -march=native
endif

WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wno-unused-parameter
CPPFLAGS_ALL := -Iinclude -Isrc -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE
CFLAGS_ALL   := -std=c11 $(OPT) $(WARN) -fPIC -fvisibility=hidden -fopenmp -ffp-contract=fast -fno-math-errno $(CFLAGS)
LIBS    := -lm -lz

PKGS    := libpng libjpeg
CPPFLAGS_ALL += $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
LIBS    += $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null || echo -lpng -ljpeg)

# OpenBLAS is only a reference for test_gemm and the benchmark (the library
# has its own kernels and does not link it).
ifeq ($(BLAS),auto)
BLAS := $(shell $(PKG_CONFIG) --exists openblas 2>/dev/null && echo 1 || echo 0)
endif
ifeq ($(BLAS),1)
REFBLAS_CFLAGS := -DDN_HAVE_CBLAS $(shell $(PKG_CONFIG) --cflags openblas)
REFBLAS_LIBS   := $(shell $(PKG_CONFIG) --libs openblas)
endif

LIB_SRC := $(sort $(wildcard src/*.c src/*/*.c))
CLI_SRC := $(sort $(wildcard cmd/digitnet/*.c))
TEST_SRC := $(sort $(wildcard tests/test_*.c))
WEB     := $(sort $(wildcard web/*))

LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/web_assets.o
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
TESTS   := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)

STATIC  := $(BUILD)/libdigitnet.a
SHARED  := $(BUILD)/libdigitnet.so.$(VERSION)
CLI     := $(BUILD)/digitnet

.PHONY: all lib cli tests test run data deps handwriting bench install uninstall clean format valgrind fuzz serve site
.DEFAULT_GOAL := all

all: lib cli tests
lib: $(STATIC) $(SHARED)
cli: $(CLI)
tests: $(TESTS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

# Static assets of the web page are embedded into the library at build time.
$(BUILD)/tools/embed: tools/embed.c
	@mkdir -p $(dir $@)
	@$(CC) -std=c11 -O2 $(WARN) $< -o $@
$(BUILD)/gen/web_assets.c: $(BUILD)/tools/embed $(WEB)
	@mkdir -p $(dir $@)
	@$(BUILD)/tools/embed $@ $(WEB)
$(BUILD)/obj/gen/web_assets.o: $(BUILD)/gen/web_assets.c
	@mkdir -p $(dir $@)
	@$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) -c $< -o $@

$(STATIC): $(LIB_OBJ)
	@rm -f $@
	@echo "  AR      $@"
	@ar rcs $@ $^
$(SHARED): $(LIB_OBJ)
	@echo "  LD      $@"
	@$(CC) $(CFLAGS_ALL) -shared -Wl,-soname,libdigitnet.so.$(SOMAJOR) -o $@ $^ $(LIBS) $(LDFLAGS)
	@ln -sf libdigitnet.so.$(VERSION) $(BUILD)/libdigitnet.so.$(SOMAJOR)
	@ln -sf libdigitnet.so.$(SOMAJOR) $(BUILD)/libdigitnet.so

$(CLI): $(CLI_OBJ) $(STATIC)
	@echo "  LD      $@"
	@$(CC) $(CFLAGS_ALL) -o $@ $(CLI_OBJ) $(STATIC) $(LIBS) $(LDFLAGS)

# The tests' own builds of the files with crash points (DN_TEST_HOOK in
# src/internal.h), linked ahead of the library into the C tests and into
# $(BUILD)/tests/digitnet-hooked, the CLI the crash tests run.
HOOKED_SRC := src/checkpoint.c src/data/collect.c tests/hooks.c
HOOKED_OBJ := $(HOOKED_SRC:%.c=$(BUILD)/obj/hooked/%.o)
HOOKED_CLI := $(BUILD)/tests/digitnet-hooked
tests: $(HOOKED_CLI)

$(BUILD)/obj/hooked/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $< (test hooks)"
	@$(CC) $(CPPFLAGS_ALL) -DDN_TEST_HOOKS $(CFLAGS_ALL) -MMD -MP -c $< -o $@

$(HOOKED_CLI): $(CLI_OBJ) $(HOOKED_OBJ) $(STATIC)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(CFLAGS_ALL) -o $@ $(CLI_OBJ) $(HOOKED_OBJ) $(STATIC) $(LIBS) $(LDFLAGS)

# test_threads counts the threads the OpenMP runtime starts through its own
# pthread_create, which the runtime reaches only if the binary exports it.
$(BUILD)/tests/test_threads: LDFLAGS += -Wl,--export-dynamic-symbol=pthread_create

$(BUILD)/tests/%: tests/%.c tests/check.h $(HOOKED_OBJ) $(STATIC)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(CPPFLAGS_ALL) -Itests -Ibench $(REFBLAS_CFLAGS) $(CFLAGS_ALL) -o $@ $< $(HOOKED_OBJ) \
	    $(STATIC) $(LIBS) $(REFBLAS_LIBS) $(LDFLAGS)

$(BUILD)/bench/bench: bench/bench.c bench/refblas.h $(STATIC)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(CPPFLAGS_ALL) $(REFBLAS_CFLAGS) $(CFLAGS_ALL) -o $@ $< $(STATIC) $(LIBS) \
	    $(REFBLAS_LIBS) $(LDFLAGS)

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(HOOKED_OBJ:.o=.d)

# ---------------------------------------------------------------- data ----
data:
	@scripts/fetch-mnist data/mnist

deps:
	@scripts/install-deps

# The handwriting set (docs/handwriting.md): digits MNIST never saw, from
# Debian's fonts and designed stroke paths, split by font and writer into
# train and eval parts; generated with a fixed seed, never committed.
handwriting: data/handwriting/MANIFEST
data/handwriting/MANIFEST: scripts/make-handwriting
	@scripts/install-deps --handwriting
	@scripts/make-handwriting data/handwriting

# ---------------------------------------------------------------- tests ---
# `make test` first installs what the tests need (scripts/install-deps --tests
# --handwriting).
test:
	@scripts/install-deps --tests --handwriting
	@$(MAKE) --no-print-directory all data
	@BUILD=$(BUILD) DN_SAN=$(SAN) scripts/run-tests $(BUILD)

# The C tests under memcheck (those named *_slow* are skipped); any error or
# definite/indirect leak fails the test. Built without -march=native in
# build-valgrind/: memcheck does not decode AVX-512 (EVEX) instructions.
valgrind: data
	@command -v valgrind >/dev/null || { echo "valgrind is not installed: scripts/install-deps valgrind"; exit 1; }
	@$(MAKE) --no-print-directory NATIVE=0 BUILD=build-valgrind all
	@BUILD=build-valgrind VALGRIND=1 scripts/run-tests build-valgrind

# ---------------------------------------------------------------- run -----
MODEL ?= models/mnist-cnn.dnm
run:
	@scripts/install-deps
	@$(MAKE) --no-print-directory all data
	@scripts/run-main $(BUILD)

bench: all data
	@bench/run $(BUILD)

# ---------------------------------------------------------------- site ----
# The drawing page with no server (docs/site.md): web/'s page, site/site.js
# and the library's inference, normalisation and API code compiled to
# WebAssembly by Debian's emscripten (one thread, no zlib/libpng/libjpeg:
# the page hands the module PPM pixels), plus MODEL with its parameters
# stored as SITE_WEIGHTS (fp16 halves the download; fp32 keeps them).
SITE_WEIGHTS ?= fp16
EMCC    ?= emcc
SITE    := $(BUILD)/site
SITE_SRC := src/common.c src/binio.c src/model.c src/modelfile.c src/spec.c src/preprocess.c \
            src/explain.c src/calibrate.c $(sort $(wildcard src/layers/*.c src/kernels/*.c)) \
            src/data/image.c src/data/collect.c src/server/api.c src/server/json.c site/site.c
SITE_FLAGS := -std=c11 -O3 $(WARN) -Iinclude -Isrc -D_POSIX_C_SOURCE=200809L \
              -D_DEFAULT_SOURCE -DDN_NO_ZLIB -DDN_PNM_ONLY -ffp-contract=fast -fno-math-errno
SITE_LINK := -sENVIRONMENT=web -sMODULARIZE=1 -sEXPORT_NAME=digitnetModule \
             -sALLOW_MEMORY_GROWTH=1 -sFORCE_FILESYSTEM=1 -sEXPORTED_RUNTIME_METHODS=FS,UTF8ToString \
             -sEXPORTED_FUNCTIONS=_malloc,_free
SITE_PAGE := $(addprefix web/,app.js base.css style.css favicon.svg) site/site.js

site: $(SITE)/digitnet.wasm $(SITE)/digitnet-simd.wasm $(BUILD)/tools/site-model
	@$(BUILD)/tools/site-model $(MODEL) $(SITE)/model.dnm $(SITE_WEIGHTS)
	@cp $(SITE_PAGE) $(SITE)/
	@sed -e 's#\(href\|src\)="/#\1="#g' \
	     -e 's#^\(  *\)<script src="app.js" defer></script>#\1<script src="digitnet.js" defer></script>\n\1<script src="site.js" defer></script>\n&#' \
	     web/index.html > $(SITE)/index.html
	@n=0; for f in $(SITE)/*; do n=$$((n + $$(gzip -9 -c $$f | wc -c))); done; \
	    echo "  SITE    $(SITE)/ ($(MODEL), $(SITE_WEIGHTS)): $$n bytes gzip-compressed, file by file"

# Two modules, one loader: digitnet.wasm for every browser with WebAssembly,
# digitnet-simd.wasm (128-bit SIMD, about twice as fast) for those that
# validate SIMD; site.js fetches one of them. The build checks that both
# links wrote the same loader. NODE_PATH: emscripten's optimiser needs
# Debian's node modules (acorn) also when another node comes first in PATH.
SITE_EMCC = @{ command -v $(EMCC) >/dev/null || scripts/install-deps emscripten >/dev/null; } && mkdir -p $(1) && echo "  EMCC    $@" && \
	NODE_PATH=$${NODE_PATH:+$$NODE_PATH:}/usr/share/nodejs $(EMCC) $(SITE_FLAGS) $(2) $(SITE_SRC) \
	    $(SITE_LINK) -o $(1)/digitnet.js
$(SITE)/digitnet.wasm: $(SITE_SRC) $(wildcard src/*.h src/*/*.h include/*.h) Makefile
	$(call SITE_EMCC,$(SITE),)
$(SITE)/digitnet-simd.wasm: $(SITE)/digitnet.wasm
	$(call SITE_EMCC,$(BUILD)/site-simd,-msimd128)
	@cmp -s $(BUILD)/site-simd/digitnet.js $(SITE)/digitnet.js || \
	    { echo "the SIMD build's loader differs from the baseline's"; exit 1; }
	@mv $(BUILD)/site-simd/digitnet.wasm $@ && rm -rf $(BUILD)/site-simd

$(BUILD)/tools/site-model: tools/site-model.c $(STATIC)
	@mkdir -p $(dir $@)
	@$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) -o $@ $< $(STATIC) $(LIBS) $(LDFLAGS)

# ---------------------------------------------------------------- install -
# Every file install writes is listed in INSTALLED, which uninstall removes.
# The shipped models are found next to the installed executable
# (PREFIX/share/digitnet/models), so any PREFIX works without a rebuild.
# Installing as root into the live system (no DESTDIR) runs ldconfig, so a
# system prefix such as /usr/local needs no LD_LIBRARY_PATH; programs
# linked against a private prefix need an rpath or LD_LIBRARY_PATH (see
# the README).
D := $(DESTDIR)$(PREFIX)
SUBST := sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' -e 's|@SOMAJOR@|$(SOMAJOR)|' \
             -e 's|@LIBS@|$(LIBS)|'
INSTALLED := bin/digitnet lib/libdigitnet.a lib/libdigitnet.so.$(VERSION) \
             lib/libdigitnet.so.$(SOMAJOR) lib/libdigitnet.so include/digitnet.h \
             lib/pkgconfig/digitnet.pc lib/cmake/digitnet/digitnetConfig.cmake \
             lib/cmake/digitnet/digitnetConfigVersion.cmake share/man/man1/digitnet.1 \
             share/bash-completion/completions/digitnet \
             $(addprefix share/digitnet/models/,$(notdir $(wildcard models/*.dnm)))
install: all
	install -d $(D)/bin $(D)/lib/pkgconfig $(D)/lib/cmake/digitnet $(D)/include \
	           $(D)/share/digitnet/models $(D)/share/man/man1 $(D)/share/bash-completion/completions
	install -m 755 $(CLI) $(D)/bin/digitnet
	install -m 644 $(STATIC) $(D)/lib/
	install -m 755 $(SHARED) $(D)/lib/
	ln -sf libdigitnet.so.$(VERSION) $(D)/lib/libdigitnet.so.$(SOMAJOR)
	ln -sf libdigitnet.so.$(SOMAJOR) $(D)/lib/libdigitnet.so
	install -m 644 include/digitnet.h $(D)/include/
	install -m 644 models/*.dnm $(D)/share/digitnet/models/
	$(SUBST) digitnet.pc.in > $(D)/lib/pkgconfig/digitnet.pc
	$(SUBST) tools/cmake/digitnetConfig.cmake.in > $(D)/lib/cmake/digitnet/digitnetConfig.cmake
	$(SUBST) tools/cmake/digitnetConfigVersion.cmake.in > $(D)/lib/cmake/digitnet/digitnetConfigVersion.cmake
	install -m 644 docs/digitnet.1 $(D)/share/man/man1/digitnet.1
	install -m 644 tools/bash-completion/digitnet $(D)/share/bash-completion/completions/digitnet
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ] && command -v ldconfig >/dev/null; then \
	    echo "ldconfig"; ldconfig; fi

uninstall:
	rm -f $(addprefix $(D)/,$(INSTALLED))
	-rmdir $(D)/share/digitnet/models $(D)/share/digitnet $(D)/lib/cmake/digitnet 2>/dev/null
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ] && command -v ldconfig >/dev/null; then \
	    echo "ldconfig"; ldconfig; fi

format:
	clang-format -i include/*.h src/*.c src/*/*.c src/*.h src/*/*.h cmd/digitnet/*.c cmd/digitnet/*.h \
	    tests/*.c tests/*.h tests/fuzz/*.c tests/fuzz/*.h tools/*.c bench/*.c site/*.c
	@bash tests/docs.sh --fix >/dev/null || true # the docs' line anchors follow the code

clean:
	rm -rf build build-san build-clang build-fuzz build-valgrind

# libFuzzer targets (make fuzz-build, fuzz-smoke, fuzz); see docs/fuzzing.md
-include tests/fuzz/fuzz.mk
