#include <criterion/criterion.h>
#include "rtgc.h"

#define MS 1000000ULL

Test(rtgc, a_collection_waits_its_duty_and_never_overlaps) {
    /* never asked yet: at once */
    cr_expect(ml_rtgc_due(false, 0, 0, 5 * MS, 19));
    /* one pending: never another */
    cr_expect_not(ml_rtgc_due(true, 0, 0, 5 * MS, 19));
    /* a 4 ms collection at moderate (duty 19): the next after 76 ms */
    cr_expect_not(ml_rtgc_due(false, 100 * MS, 4 * MS, 175 * MS, 19));
    cr_expect(ml_rtgc_due(false, 100 * MS, 4 * MS, 176 * MS, 19));
    /* at soft (duty 1): after 4 ms, but never sooner than ML_RTGC_EVERY_NS */
    cr_expect_not(ml_rtgc_due(false, 100 * MS, 4 * MS, 100 * MS + ML_RTGC_EVERY_NS - 1, 1));
    cr_expect(ml_rtgc_due(false, 100 * MS, 4 * MS, 100 * MS + ML_RTGC_EVERY_NS, 1));
    /* a large heap's 300 ms collection at soft: 300 ms between them (50% of its time) */
    cr_expect_not(ml_rtgc_due(false, 1000 * MS, 300 * MS, 1299 * MS, 1));
    cr_expect(ml_rtgc_due(false, 1000 * MS, 300 * MS, 1300 * MS, 1));
    /* a clock that went back: not due */
    cr_expect_not(ml_rtgc_due(false, 1000 * MS, 1 * MS, 900 * MS, 1));
}

Test(rtgc, a_program_that_is_no_interpreter_is_left_alone) {
    /* this test binary defines no Py_AddPendingCall: nothing is asked, nothing polled */
    ml_rtgc_find(true, false);
    cr_expect_not(ml_rtgc_request(10 * MS, 1));
    ml_rtgc_poll(1, 10 * MS);
    cr_expect_eq(ml_rtgc_collections(), 0);
}
