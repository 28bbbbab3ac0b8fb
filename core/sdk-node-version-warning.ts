/**
 * Imported first by every entry point that builds AWS SDK clients (the CLIs, npm start, the benches;
 * jest's test environment sets the same for the tests): on Node < 22 the SDK prints a 7-line
 * NodeVersionSupportWarning once per process and once per jest test file, which buried every other
 * line of output. The README's prerequisites say what it says (SDK releases after the first week of
 * January 2027 require Node 22; the Lambda runtime is already newer), so it is said once there.
 * Only this warning is switched off, with the SDK's own switch (read by @aws-sdk/core's
 * emitWarningIfUnsupportedVersion); other warnings still print. Set
 * AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=false to see it again.
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ||= 'true';

// A module (not a script), so the test can import it the way the entry points do.
export {};
