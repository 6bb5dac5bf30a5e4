/** The deployed stack's outputs (versions, URLs) for the deploy summary, read with CloudFormation's DescribeStacks. */
export interface StackOutputsApi {
  /** Output key → value of the stack. */
  outputs(stackName: string): Promise<Record<string, string>>;
}

export function defaultStackOutputs(region: string): StackOutputsApi {
  return {
    async outputs(stackName) {
      const { CloudFormationClient, DescribeStacksCommand } = await import('@aws-sdk/client-cloudformation');
      const client = new CloudFormationClient({ region });
      try {
        const { Stacks } = await client.send(new DescribeStacksCommand({ StackName: stackName }));
        return Object.fromEntries(
          (Stacks?.[0]?.Outputs ?? []).flatMap((o) => (o.OutputKey && o.OutputValue ? [[o.OutputKey, o.OutputValue]] : [])),
        );
      } finally {
        client.destroy();
      }
    },
  };
}
