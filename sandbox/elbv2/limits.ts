/**
 * The ELB API version 2's default request throttling, as rateLimit faults: the token buckets of
 * the ELB user guide's "Request throttling for the Elastic Load Balancing API" (capacity, refill
 * per second). Every call takes a token from its category's bucket and one from the account's.
 * Not on by default: tests that build many resources would spend minutes waiting on them.
 *
 *   for (const f of elbv2ApiLimits()) sandbox.core.injectFault(f);
 */
import type { Fault } from '../core.js';

const RESOURCE_INTENSIVE = ['CreateLoadBalancer', 'SetSubnets'];
const REGISTRATION = ['RegisterTargets', 'DeregisterTargets'];
const NON_MUTATING = [
  'DescribeAccountLimits',
  'DescribeCapacityReservation',
  'DescribeListenerAttributes',
  'DescribeListenerCertificates',
  'DescribeListeners',
  'DescribeLoadBalancerAttributes',
  'DescribeLoadBalancers',
  'DescribeRules',
  'DescribeSSLPolicies',
  'DescribeTags',
  'DescribeTargetGroupAttributes',
  'DescribeTargetGroups',
  'DescribeTargetHealth',
];
const MUTATING = [
  'AddListenerCertificates',
  'AddTags',
  'CreateListener',
  'CreateRule',
  'CreateTargetGroup',
  'DeleteListener',
  'DeleteLoadBalancer',
  'DeleteRule',
  'DeleteTargetGroup',
  'ModifyCapacityReservation',
  'ModifyIpPools',
  'ModifyListener',
  'ModifyListenerAttributes',
  'ModifyLoadBalancerAttributes',
  'ModifyRule',
  'ModifyTargetGroup',
  'ModifyTargetGroupAttributes',
  'RemoveListenerCertificates',
  'RemoveTags',
  'SetIpAddressType',
  'SetRulePriorities',
  'SetSecurityGroups',
];

function bucket(operations: string[], burst: number, ratePerSecond: number): Fault {
  const [operation, ...rest] = operations as [string, ...string[]];
  return {
    service: 'elasticloadbalancing',
    operation,
    operations: rest,
    kind: 'rateLimit',
    burst,
    ratePerSecond,
  };
}

export function elbv2ApiLimits(): Fault[] {
  return [
    // The account-level bucket, shared by every action.
    {
      service: 'elasticloadbalancing',
      operation: '*',
      kind: 'rateLimit',
      burst: 40,
      ratePerSecond: 10,
    },
    bucket(RESOURCE_INTENSIVE, 10, 0.2),
    bucket(REGISTRATION, 20, 4),
    bucket(NON_MUTATING, 40, 10),
    bucket(MUTATING, 20, 3),
  ];
}
