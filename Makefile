.PHONY: dev test build

# Runs Phoenix Jobs on this machine: a private Redis (unless REDIS_URL is set), a worker of every type, demo jobs.
dev:
	scripts/dev.sh

# Runs every test against a private Redis that the script starts and stops (see scripts/test.sh).
test:
	scripts/test.sh

build:
	swift build
