#ifndef PUSHFLEET_CRDKAFKA_SHIM_H
#define PUSHFLEET_CRDKAFKA_SHIM_H
// librdkafka's consumer/producer API and its mock cluster (the embedded broker).
// Every function PushFleet calls is non-variadic (rd_kafka_produceva,
// rd_kafka_mock_push_request_errors_array), so no C wrapper target is needed.
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#endif
