/** A deployed function's environment, read with Lambda's GetFunctionConfiguration (what a new stack deploy must carry over). */
export interface FunctionConfigApi {
  /** The function's variables, or undefined when it does not exist yet. */
  environment(functionName: string): Promise<Record<string, string> | undefined>;
}

export function defaultFunctionConfig(region: string): FunctionConfigApi {
  return {
    async environment(functionName) {
      const { LambdaClient, GetFunctionConfigurationCommand, ResourceNotFoundException } = await import('@aws-sdk/client-lambda');
      const client = new LambdaClient({ region });
      try {
        const config = await client.send(new GetFunctionConfigurationCommand({ FunctionName: functionName }));
        return config.Environment?.Variables ?? {};
      } catch (error) {
        if (error instanceof ResourceNotFoundException) return undefined;
        throw error;
      } finally {
        client.destroy();
      }
    },
  };
}
