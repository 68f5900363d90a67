module github.com/strata-storage/strata/b2

go 1.25.0

require (
	github.com/Backblaze/blazer v0.7.2
	github.com/strata-storage/strata v0.0.0-00010101000000-000000000000
	github.com/strata-storage/strata/conformance v0.0.0-00010101000000-000000000000
	github.com/stretchr/testify v1.12.1
)

require go.yaml.in/yaml/v3 v3.0.5 // indirect
