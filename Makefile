# strata's build and test entry points. `make test` is the command that
# runs every test, on a fresh machine too (it needs go and docker): it
# builds the local MinIO image when missing, checks the modules' layout,
# then vets and tests every module of the workspace (go.work) with the race
# detector, and the core under the older supported Go as well.

SHELL := bash
GO    ?= go

# The MinIO image the remote tests run against: built locally by
# scripts/minio-image.sh (the pinned version lives there, nowhere else).
# Override with `make test STRATA_MINIO_IMAGE=...` to use another image.
STRATA_MINIO_IMAGE ?= $(shell scripts/minio-image.sh --name)
export STRATA_MINIO_IMAGE

# The modules (go.work's use list, scripts/modules.sh) are tested together
# in workspace mode, as one build: every package of every module, named by
# this pattern, which covers each module of the repository (their paths all
# start with it). One `go test` over all of them keeps the parallelism of
# the single module this was before the split; scripts/modules.sh check
# makes sure each module's own go.mod is complete and tidy, which the
# workspace alone would not show.
PKGS := github.com/strata-storage/strata/...

# The older of the two Go releases strata supports (the core's go line,
# 1.25.0, names it, as does every module's but gocloud's): a toolchain the
# go command fetches from the module proxy (GOTOOLCHAIN), the newest 1.25.x
# it serves. Those modules are built and tested with it too
# (test-oldest-go), so an API or language change newer than the go line
# fails here. The newest Go is whatever `go` is (see go.work).
GO_OLDEST ?= go1.25.14

# staticcheck, pinned, run from the Go module proxy with `go run pkg@version`
# so that it stays out of the module's go.mod (and go.sum).
STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2

# testcontainers: no reaper (its image cannot be pulled here) and talk to
# containers on loopback only, never through a gateway address.
export TESTCONTAINERS_RYUK_DISABLED  := true
export TESTCONTAINERS_HOST_OVERRIDE  := 127.0.0.1

.PHONY: test test-short test-modules test-oldest-go tidy minio-image vet staticcheck bench

## test: every test, MinIO included (the README's test command): the
## modules' layout (each go.mod tidy and in go.work, a core-only program
## pulling in no third-party module), vet and staticcheck of every module,
## every module's tests under the race detector, then again (without it)
## under the oldest supported Go for every module whose go line allows it
## (all but gocloud), then the 4-node cluster test on its own (it is left
## out of the first passes, not skipped, so it has the CPU).
test: minio-image test-modules
	$(GO) vet $(PKGS)
	$(STATICCHECK) $(PKGS)
	$(GO) test -race -timeout 45m -skip '^TestCluster$$' $(PKGS)
	$(MAKE) --no-print-directory test-oldest-go
	$(MAKE) --no-print-directory test-cluster
# ===== More test steps go here (others append below this line) ============
# For example a cluster test or soak target of its own:  $(MAKE) test-cluster

.PHONY: test-cluster soak
## test-cluster: the 4-node MinIO fault test (a few minutes; CI runs it
## after `make test`): nodes stopped, restarted and cut off mid-workload.
test-cluster: minio-image
	STRATA_RELIABILITY_CLUSTER=1 $(GO) test -race -timeout 20m -run '^TestCluster$$' -v ./internal/reliability/

## soak: the soak command against a MinIO container started for it, for
## SOAK_DURATION (2 minutes by default): `make soak SOAK_DURATION=30m`.
SOAK_DURATION ?= 2m
soak: minio-image
	GO=$(GO) cmd/strata-soak/soak-minio.sh -duration $(SOAK_DURATION) -interval 10s
# ===== End of test steps ===================================================

## minio-image: build strata-minio:<version> unless it is there already.
minio-image:
	scripts/minio-image.sh >/dev/null

## test-modules: the layout of the modules: every go.mod is in go.work and
## tidy, and a throwaway program importing only the core packages gets no
## third-party module (scripts/core-deps.sh). Needs no Docker.
test-modules:
	GO=$(GO) scripts/modules.sh check
	GO=$(GO) scripts/core-deps.sh

## test-oldest-go: vet and test with $(GO_OLDEST) every module whose go
## line is the core's (all but gocloud; scripts/oldest-go.sh -list names
## them), MinIO tests included, in a workspace of those modules alone, so
## they are built with their own requirements, as a user on that Go builds
## them. Without -race (the race run above already covers the same code;
## this pass is about what compiles and behaves on the older Go) and
## without the cluster test (test-cluster).
test-oldest-go: minio-image
	GO=$(GO) GO_OLDEST=$(GO_OLDEST) scripts/oldest-go.sh

## tidy: go mod tidy in every module (see scripts/modules.sh).
tidy:
	GO=$(GO) scripts/modules.sh tidy

## test-short: the tests that need no Docker.
test-short:
	$(GO) test -race -short $(PKGS)

## vet: go vet on every module.
vet:
	$(GO) vet $(PKGS)

## staticcheck: staticcheck (pinned above) on every module, tests and
## examples included; `make test` runs it too.
staticcheck:
	$(STATICCHECK) $(PKGS)

## bench: every benchmark (the remote ones need MinIO, hence the image).
bench: minio-image
	$(GO) test -run '^$$' -bench . -benchmem -timeout 60m $(PKGS)
