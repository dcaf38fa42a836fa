.PHONY: dev test build

# Runs the whole platform on this machine (scripts/dev.sh: installs what is missing, builds, `phoenix dev --demo`).
dev:
	scripts/dev.sh

# Runs every test against a private Redis that the script starts and stops (see scripts/test.sh).
test:
	scripts/test.sh

build:
	swift build
