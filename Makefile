# strata's build and test entry points. `make test` is the command that
# runs every test, on a fresh machine too (it needs go and docker): it
# builds the local MinIO image when missing, then vets and tests the whole
# module with the race detector.

SHELL := bash
GO    ?= go

# The MinIO image the remote tests run against: built locally by
# scripts/minio-image.sh (the pinned version lives there, nowhere else).
# Override with `make test STRATA_MINIO_IMAGE=...` to use another image.
STRATA_MINIO_IMAGE ?= $(shell scripts/minio-image.sh --name)
export STRATA_MINIO_IMAGE

# staticcheck, pinned, run from the Go module proxy with `go run pkg@version`
# so that it stays out of the module's go.mod (and go.sum).
STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2

# testcontainers: no reaper (its image cannot be pulled here) and talk to
# containers on loopback only, never through a gateway address.
export TESTCONTAINERS_RYUK_DISABLED  := true
export TESTCONTAINERS_HOST_OVERRIDE  := 127.0.0.1

.PHONY: test test-short minio-image vet staticcheck bench

## test: every test, MinIO included (the README's test command): vet,
## staticcheck, the whole module under the race detector, then the 4-node
## cluster test on its own (it is left out of the first pass, not skipped,
## so it has the CPU).
test: minio-image
	$(GO) vet ./...
	$(STATICCHECK) ./...
	$(GO) test -race -timeout 45m -skip '^TestCluster$$' ./...
	cd gocloud && $(GO) vet ./... && $(GO) test -race -timeout 20m ./...
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

## test-short: the tests that need no Docker.
test-short:
	$(GO) test -race -short ./...

## vet: go vet on the whole module.
vet:
	$(GO) vet ./...

## staticcheck: staticcheck (pinned above) on the whole module, tests and
## examples included; `make test` runs it too.
staticcheck:
	$(STATICCHECK) ./...

## bench: every benchmark (the remote ones need MinIO, hence the image).
bench: minio-image
	$(GO) test -run '^$$' -bench . -benchmem -timeout 60m ./...
