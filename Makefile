# mxlab — see README.md. `make test` is the whole suite, as CI runs it.
GO ?= go
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: all build test unit deps vet lint fuzz bench fidelity soak serve clean image

all: build

build:
	$(GO) build -o bin/mxlab ./cmd/mxlab

# What a missing real peer does to `make test` (internal/realpeer):
# require fails the test, auto skips it; `make test REAL_PEERS=auto` runs
# where some peer cannot be had, and the run ends with what it skipped.
REAL_PEERS ?= require
SKIPPED := $(CURDIR)/bin/skipped-peers.txt

# The whole suite: install what it needs from Debian if missing (a C
# compiler for -race, openssl, gnutls-bin, swaks with TLS, dnsutils,
# knot-dnsutils, Postfix, the libraries of the unpacked Exim and
# sendmail), then vet, staticcheck and every test, real-peer tests included.
test: deps vet lint
	@mkdir -p bin && rm -f $(SKIPPED)
	@status=0; CGO_ENABLED=1 MXLAB_REAL_PEERS=$(REAL_PEERS) MXLAB_REAL_PEERS_REPORT=$(SKIPPED) \
		$(GO) test -race -count=1 -timeout 40m ./... || status=$$?; \
	if [ -s $(SKIPPED) ]; then echo "real-peer tests skipped:"; sort -u $(SKIPPED); fi; \
	exit $$status

# Every test that needs nothing but Go: real peers off, even where they
# are installed.
unit:
	MXLAB_REAL_PEERS=off $(GO) test -count=1 ./...

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
	$(GO) test ./scenarios -run '^$$' -fuzz FuzzScenarioFile -fuzztime $(FUZZTIME)

bench:
	./bench/run.sh

# Real Postfix (may, encrypt, dane, verify) against the lab in a network
# namespace, compared with mxlab send's predictions; needs root.
# The soak at full size: 20,000 sessions across every scenario, ending at
# every phase (make test runs it at 1,200).
soak:
	MXLAB_SOAK_SESSIONS=20000 $(GO) test -count=1 -run TestSoak -v ./lab

fidelity: deps
	MXLAB_FIDELITY_REPORT=$(CURDIR)/fidelity.md $(GO) test -count=1 -run Fidelity ./interop
	@cat fidelity.md

# The container image (Dockerfile): a static binary in an image FROM
# scratch, built with podman (docker format, which keeps HEALTHCHECK) or
# docker. No registry is needed.
IMAGE ?= mxlab:latest
IMAGE_BUILD ?= $(if $(shell command -v podman),podman build --format docker,docker build)
image:
	rm -rf bin/image
	mkdir -p bin/image/rootfs/etc bin/image/rootfs/tmp bin/image/state
	CGO_ENABLED=0 $(GO) build -buildvcs=auto -trimpath -ldflags='-s -w' -o bin/image/rootfs/mxlab ./cmd/mxlab
	printf 'mxlab:x:65532:65532:mxlab:/var/lib/mxlab:/nonexistent\n' >bin/image/rootfs/etc/passwd
	printf 'mxlab:x:65532:\n' >bin/image/rootfs/etc/group
	chmod 1777 bin/image/rootfs/tmp
	$(IMAGE_BUILD) -t $(IMAGE) .

serve: build
	./bin/mxlab serve

clean:
	rm -rf bin
