# tests/fuzz/fuzz.mk — libFuzzer targets; included by the Makefile
# (`-include tests/fuzz/fuzz.mk`, after its own rules) and described in
# docs/fuzzing.md.
#
#   make fuzz-build    every target, built with clang -fsanitize=fuzzer,address,undefined
#                      against the library compiled the same way, into build-fuzz/
#   make fuzz-smoke    each target for FUZZ_SECONDS (default 60), one after the other;
#                      fails when one finds a crash
#   make fuzz          the longer campaign: FUZZ_SECONDS (default 600) per target
#   make fuzz-corpus   regenerates the seed corpora in tests/fuzz/corpus/
#
# Options: FUZZ_TARGETS="idx api" (a subset), FUZZ_SECONDS=N, FUZZ_ARGS="-max_len=8192"
#          (extra libFuzzer flags), FUZZ_CC=clang-15.

FUZZ_CC      ?= clang
FUZZ_BUILD   ?= build-fuzz
FUZZ_TARGETS ?= idx csv model image api upload request
FUZZ_ARGS    ?=

FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all
# Warnings are gated by the regular gcc and clang builds; at -O1 with
# sanitizers clang also reports loops it could not vectorise, which must not
# stop a fuzzing build.
FUZZ_CFLAGS  := -std=c11 -O1 -g -fno-omit-frame-pointer $(filter-out -Werror,$(WARN)) \
                -Wno-pass-failed -fopenmp $(FUZZ_SAN)
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=$(FUZZ_BUILD)/obj/%.o) $(FUZZ_BUILD)/obj/gen/web_assets.o
FUZZ_LIB     := $(FUZZ_BUILD)/libdigitnet.a
FUZZ_BINS    := $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz_%)
FUZZ_HDRS    := tests/fuzz/fuzz_common.h

.PHONY: fuzz-build fuzz-smoke fuzz fuzz-corpus clean-fuzz

fuzz-build: $(FUZZ_BINS)

# The library, with coverage instrumentation but without libFuzzer's main.
$(FUZZ_BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $< (fuzz)"
	@$(FUZZ_CC) $(CPPFLAGS_ALL) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

$(FUZZ_BUILD)/obj/gen/web_assets.o: $(BUILD)/gen/web_assets.c
	@mkdir -p $(dir $@)
	@$(FUZZ_CC) $(CPPFLAGS_ALL) $(FUZZ_CFLAGS) -c $< -o $@

$(FUZZ_LIB): $(FUZZ_LIB_OBJ)
	@rm -f $@
	@ar rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_HDRS) $(FUZZ_LIB)
	@echo "  LD      $@"
	@$(FUZZ_CC) $(CPPFLAGS_ALL) -Itests $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_LIB) \
	    $(LIBS) $(LDFLAGS)

fuzz-smoke: fuzz-build
	@tests/fuzz/run-fuzz $(FUZZ_BUILD) $(or $(FUZZ_SECONDS),60) $(FUZZ_TARGETS)

fuzz: fuzz-build
	@tests/fuzz/run-fuzz $(FUZZ_BUILD) $(or $(FUZZ_SECONDS),600) $(FUZZ_TARGETS)

# Seed corpora, written by the library's own writers (see make_corpus.c).
$(BUILD)/tools/make_corpus: tests/fuzz/make_corpus.c $(STATIC)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) -o $@ $< $(STATIC) $(LIBS) $(LDFLAGS)

fuzz-corpus: $(BUILD)/tools/make_corpus
	@$(BUILD)/tools/make_corpus tests/fuzz/corpus
	@du -sh --apparent-size tests/fuzz/corpus

# The regression test #includes the targets; rebuild it when they change.
$(BUILD)/tests/test_fuzz_regressions: $(wildcard tests/fuzz/fuzz_*.c) $(FUZZ_HDRS)

clean-fuzz:
	rm -rf $(FUZZ_BUILD)

-include $(FUZZ_LIB_OBJ:.o=.d)
