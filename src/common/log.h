/* log.h - pvkit's logging; the API is public: include/pvkit/log.h. */
#ifndef PVKIT_COMMON_LOG_H
#define PVKIT_COMMON_LOG_H

#include "pvkit/log.h"

#endif
