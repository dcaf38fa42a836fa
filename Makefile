.PHONY: test build

# Runs every test against a private Redis that the script starts and stops (see scripts/test.sh).
test:
	scripts/test.sh

build:
	swift build
