# mxlab — see README.md. `make test` is the whole suite, as CI runs it.
GO ?= go
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: all build test unit deps vet lint fuzz bench fidelity serve clean

all: build

build:
	$(GO) build -o bin/mxlab ./cmd/mxlab

# The whole suite: install the real peers (openssl, gnutls-bin, swaks,
# dnsutils, knot-dnsutils, Postfix) from Debian if missing, then vet,
# staticcheck and every test, real-peer tests included.
test: deps vet lint
	$(GO) test -race -count=1 -timeout 15m ./...

# Unit tests only (no real peers needed).
unit:
	MXLAB_SKIP_REAL_PEERS=1 $(GO) test -count=1 ./...

deps:
	./scripts/install-test-deps.sh

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt would change:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...

lint:
	$(GO) run $(STATICCHECK) ./...

# Run each fuzz target for a while (FUZZTIME=5m make fuzz for longer).
FUZZTIME ?= 30s
fuzz:
	$(GO) test ./server -run '^$$' -fuzz FuzzParseClientHello -fuzztime $(FUZZTIME)
	$(GO) test ./dnslab -run '^$$' -fuzz FuzzHandler -fuzztime $(FUZZTIME)
	$(GO) test ./dane -run '^$$' -fuzz FuzzVerify -fuzztime $(FUZZTIME)
	$(GO) test ./explain -run '^$$' -fuzz FuzzExplain -fuzztime $(FUZZTIME)

bench:
	./bench/run.sh

# Real Postfix (may, encrypt, dane, verify) against the lab in a network
# namespace, compared with mxlab send's predictions; needs root.
fidelity: deps
	MXLAB_FIDELITY_REPORT=$(CURDIR)/fidelity.md $(GO) test -count=1 -run Fidelity ./interop
	@cat fidelity.md

serve: build
	./bin/mxlab serve

clean:
	rm -rf bin
