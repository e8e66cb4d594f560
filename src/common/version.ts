/** Kept equal to package.json's version by a test; sent as the AWS user agent. */
export const VERSION = '0.1.0';
export const USER_AGENT = `eks-cluster-canary/${VERSION}`;
