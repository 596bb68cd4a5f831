/* tests/test_framework.c — checks that the runner's own helpers behave. */
#include "test.h"
#include <stdlib.h>
#include <string.h>

TEST(framework_run_captures_output_and_status)
{
    char *out = NULL;
    int rc = test_run("echo hello; exit 3", &out);
    CHECK(rc == 3);
    REQUIRE(out != NULL);
    CHECK(strcmp(out, "hello\n") == 0);
    free(out);
}
