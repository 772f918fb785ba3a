# certrenew build. `make` builds; `make run` starts the DEV system; `make test` runs the whole suite.
# Sources are found by wildcard: a new .c under src/<layer>/ is built and linked without editing this file.

BUILD   ?= build
CC      ?= cc
PKGS    = libmicrohttpd libcurl jansson cjose sqlite3 libpq libsodium openssl libjpeg libpng libtiff-4 pangocairo cairo-pdf libqrencode
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN    = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
          -Wformat=2 -Wno-format-nonliteral -Wvla
HARDEN  = -fstack-protector-strong -D_FORTIFY_SOURCE=2 -fPIE
CFLAGS  ?= -O2 -g
ALL_CFLAGS = -std=c17 -D_GNU_SOURCE $(WARN) $(HARDEN) $(CFLAGS) $(EXTRA_CFLAGS) \
             -Isrc $(PKG_CFLAGS) -MMD -MP
LDFLAGS_ALL = -pie -Wl,-z,relro,-z,now $(LDFLAGS) $(EXTRA_LDFLAGS)
LIBS    = $(PKG_LIBS) -lzxcvbn -lpthread -lm

LIB_SRC  := $(filter-out src/main.c,$(wildcard src/*/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
SIM_SRC  := $(wildcard sim/*.c)
SIM_OBJ  := $(SIM_SRC:%.c=$(BUILD)/%.o)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
# Fixtures shared by the unit tests (a fresh store per test, builders), linked into each.
SUPPORT_SRC := $(wildcard tests/unit/support/*.c)
SUPPORT_OBJ := $(SUPPORT_SRC:%.c=$(BUILD)/%.o)
.SECONDARY: $(SUPPORT_OBJ)
FUZZ_SRC := $(wildcard fuzz/fuzz_*.c)

.PHONY: all deps run stop test unit asan fuzz bench bench-photo bench-sign bench-issue clean
all: $(BUILD)/certrenew $(BUILD)/govsim $(UNIT_BIN)

deps:
	@sh scripts/install-deps.sh

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/libcertrenew.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/certrenew: $(BUILD)/src/main.o $(BUILD)/libcertrenew.a
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBS)

# govsim shares only src/util with certrenew; it is never linked into certrenew.
$(BUILD)/govsim: $(SIM_OBJ) $(BUILD)/libcertrenew.a
	$(CC) $(LDFLAGS_ALL) -o $@ $(SIM_OBJ) $(BUILD)/libcertrenew.a $(LIBS)

$(BUILD)/tests/%: tests/unit/%.c $(SUPPORT_OBJ) $(BUILD)/libcertrenew.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests/unit $(LDFLAGS_ALL) $(UNIT_LDFLAGS) -o $@ $< $(SUPPORT_OBJ) $(BUILD)/libcertrenew.a $(LIBS) -lcmocka

# test_buf watches free() to see that a grown buffer's old block was wiped before it was freed.
$(BUILD)/tests/test_buf: UNIT_LDFLAGS = -Wl,--wrap=free

unit: $(UNIT_BIN)
	@for t in $(UNIT_BIN); do $$t || exit 1; done

# The same C under AddressSanitizer + UndefinedBehaviorSanitizer, in its own build tree.
asan:
	$(MAKE) BUILD=build-asan CFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined" \
	        EXTRA_LDFLAGS="-fsanitize=address,undefined" all

# libFuzzer targets (clang). FUZZ_SECONDS bounds each run.
FUZZ_SECONDS ?= 20
fuzz:
	@sh scripts/fuzz.sh $(FUZZ_SECONDS)

run: deps all
	@sh scripts/run.sh

stop:
	@sh scripts/run.sh stop

test: deps
	@sh scripts/test.sh

bench: deps all
	@sh bench/pages.sh

# What one photo upload costs in CPU, beside bare libjpeg (bench/photo.c).
$(BUILD)/bench/photo: bench/photo.c $(BUILD)/libcertrenew.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS_ALL) -o $@ $< $(BUILD)/libcertrenew.a $(LIBS)

bench-photo: $(BUILD)/bench/photo
	@$(BUILD)/bench/photo 20

# Step 3's CPU: the application PDF and the e-signature's validation, beside OpenSSL's CMS_verify.
$(BUILD)/bench/sign: bench/sign.c $(BUILD)/tests/unit/support/cmsfx.o $(BUILD)/libcertrenew.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests/unit $(LDFLAGS_ALL) -o $@ $< $(BUILD)/tests/unit/support/cmsfx.o $(BUILD)/libcertrenew.a $(LIBS)

bench-sign: $(BUILD)/bench/sign
	@$(BUILD)/bench/sign 20

# Step 4's CPU: cr_pki_issue beside one bare ECDSA P-256 signature (bench/issue.c). This target only
# builds; bench/issue.sh runs it with N = 10000 beside `openssl speed` and `openssl ca`.
$(BUILD)/bench/issue: bench/issue.c $(BUILD)/libcertrenew.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS_ALL) -o $@ $< $(BUILD)/libcertrenew.a $(LIBS)

bench-issue: $(BUILD)/bench/issue

clean:
	rm -rf build build-asan build-fuzz

-include $(LIB_OBJ:.o=.d) $(SIM_OBJ:.o=.d) $(SUPPORT_OBJ:.o=.d) $(BUILD)/src/main.d
