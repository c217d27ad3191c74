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
# sendmail), then vet, staticcheck and every test, real-peer tests
# included, then a short run of every fuzz target.
test: deps vet lint
	@mkdir -p bin && rm -f $(SKIPPED)
	@status=0; CGO_ENABLED=1 MXLAB_REAL_PEERS=$(REAL_PEERS) MXLAB_REAL_PEERS_REPORT=$(SKIPPED) \
		$(GO) test -race -count=1 -timeout 40m ./... || status=$$?; \
	if [ -s $(SKIPPED) ]; then echo "real-peer tests skipped:"; sort -u $(SKIPPED); fi; \
	exit $$status
	@$(MAKE) --no-print-directory fuzz FUZZTIME=$(FUZZTIME_TEST)

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

# Every parser that sees the network or a file, as package:target; each
# is seeded with real inputs (testdata/fuzz/ in its package holds what
# fuzzing found). `make fuzz` runs each for FUZZTIME executions (FUZZTIME=5m
# for a duration); `make test` runs each for FUZZTIME_TEST after the tests.
FUZZ_TARGETS := server:FuzzSession server:FuzzParseClientHello server:FuzzRecordScanner \
	server:FuzzReadJSONLines dnslab:FuzzHandler dane:FuzzVerify explain:FuzzExplain \
	scenarios:FuzzScenarioFile cmd/mxlab:FuzzConfig tlsrpt:FuzzParse tlsrpt:FuzzFromMessage \
	sender:FuzzParseSTSPolicy msgstore:FuzzParse
# Budgets are counts of executions, not durations: a duration ends in a
# race in Go 1.26's fuzz coordinator that fails a target with "context
# deadline exceeded" and no input (golang/go#75804, fixed in 1.27), and
# a count does not depend on how loaded the machine is.
FUZZTIME ?= 20000x
FUZZTIME_TEST ?= 500x
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		echo "fuzz: $$t for $(FUZZTIME)"; \
		$(GO) test ./$${t%%:*} -run '^$$' -fuzz "^$${t#*:}$$" -fuzztime $(FUZZTIME); \
	done

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
