// Stops the test bundle before its first test when the private servers of `make test` are missing, with one
// line saying how to run the tests: a plain `swift test` would otherwise fail every test that needs Redis or
// PostgreSQL with the same thrown error, one screen each. `--list-tests` and the like need no server.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int listing_only(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--list-tests") == 0 || strcmp(argv[i], "list") == 0) return 1;
    }
    return 0;
}

__attribute__((constructor)) static void phoenix_test_preflight(int argc, char **argv, char **envp) {
    (void)envp;
    if (listing_only(argc, argv)) return;
    if (getenv("PHOENIX_TEST_REDIS_URL") != NULL && getenv("PHOENIX_TEST_DATABASE_URL") != NULL) return;
    fprintf(stderr, "error: PHOENIX_TEST_REDIS_URL and PHOENIX_TEST_DATABASE_URL are not set: run the tests with "
                    "`make test` (or scripts/test.sh --filter NAME), which starts a private Redis and PostgreSQL\n");
    fflush(stderr);
    _exit(1);
}
