// The test bundle's start-up check (preflight.c); nothing to call: it runs before any test.
#pragma once
