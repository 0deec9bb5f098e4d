/**
 * An AWS Lambda-style handler, called with a payload format 2.0 event.
 * It returns a plain object without `statusCode`, so (as AWS does for 2.0) the gateway
 * sends it as a 200 application/json response.
 */
export async function handler(event, context) {
  const name = event.pathParameters?.name ?? event.queryStringParameters?.name ?? 'world';
  const greeting = event.stageVariables?.greeting ?? 'Hello';
  return {
    message: `${greeting}, ${name}!`,
    routeKey: event.routeKey,
    stage: event.requestContext.stage,
    requestId: context.awsRequestId,
  };
}
