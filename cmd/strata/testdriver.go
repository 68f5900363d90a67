//go:build strata_testdriver

package main

// The test:// scheme, only in binaries built for the command's tests.
import _ "github.com/strata-storage/strata/internal/testdriver"
