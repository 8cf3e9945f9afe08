module github.com/b24kit/b24

go 1.24.0

require (
	github.com/go-resty/resty/v2 v2.17.2
	github.com/stretchr/testify v1.12.1
	golang.org/x/term v0.34.0
	golang.org/x/text v0.30.0
	golang.org/x/time v0.14.0
)

require (
	go.yaml.in/yaml/v3 v3.0.5 // indirect
	golang.org/x/net v0.43.0 // indirect
	golang.org/x/sys v0.35.0 // indirect
)
