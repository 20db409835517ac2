/* endpoints.c -- a broker endpoint list "EP" or "EP1,EP2" split into its endpoints. */
#include "endpoints.h"

#include <string.h>

int
hp_endpoints_parse (const char *list, char ep[HP_ENDPOINTS_MAX][HP_ENDPOINT_MAX])
{
    int count = 0;
    for (const char *p = list;; ) {
        const char *comma = strchr (p, ',');
        size_t len = comma ? (size_t) (comma - p) : strlen (p);
        if (len == 0 || len >= HP_ENDPOINT_MAX || count == HP_ENDPOINTS_MAX)
            return -1;
        memcpy (ep[count], p, len);
        ep[count][len] = '\0';
        count++;
        if (!comma)
            return count;
        p = comma + 1;
    }
}
