import { describe, expect, it } from 'vitest';
import { NotificationCounter } from '../../sandbox/notifications.js';

describe('the demo notification counter', () => {
  it('counts notifications per CronJob slot and says which cluster sent each', () => {
    const c = new NotificationCounter();
    // 29410560 minutes since the epoch is 2025-12-02T00:00:00Z
    c.add({ pod: 'notify-29410560-abcde', namespace: 'jobs', node: 'sandbox-blue' });
    c.add({ pod: 'notify-29410561-fghij', namespace: 'jobs', node: 'sandbox-green' });
    c.add({ pod: 'notify-29410561-klmno', namespace: 'jobs', node: 'sandbox-blue' });
    expect(c.perSlot()).toEqual({
      'jobs/notify 2025-12-02T00:00:00.000Z': ['blue'],
      'jobs/notify 2025-12-02T00:01:00.000Z': ['green', 'blue'],
    });
    expect(() => c.add({})).toThrow('a notification needs "pod"');
  });
});
