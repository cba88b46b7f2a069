// A mutation that fails (typed result or thrown error) must leave no writes behind. Registered last,
// so it wraps resolvers innermost and sees an error before plugin-errors turns it into a result; the
// transaction plugin then rolls the whole operation back.
import SchemaBuilder, { BasePlugin, type PothosOutputFieldConfig, type SchemaTypes } from "@pothos/core";
import type { GraphQLFieldResolver } from "graphql";

export class RollbackOnErrorPlugin<Types extends SchemaTypes> extends BasePlugin<Types> {
  override wrapResolve(
    resolver: GraphQLFieldResolver<unknown, Types["Context"], object>,
    fieldConfig: PothosOutputFieldConfig<Types>,
  ): GraphQLFieldResolver<unknown, Types["Context"], object> {
    if (fieldConfig.parentType !== "Mutation") return resolver;
    return async (parent, args, context, info) => {
      try {
        return await resolver(parent, args, context, info);
      } catch (error) {
        (context as { rollbackOnly: boolean }).rollbackOnly = true;
        throw error;
      }
    };
  }
}

const pluginName = "laurelRollbackOnError";
SchemaBuilder.registerPlugin(pluginName, RollbackOnErrorPlugin);
export default pluginName;

declare global {
  export namespace PothosSchemaTypes {
    export interface Plugins<Types extends SchemaTypes> {
      laurelRollbackOnError: RollbackOnErrorPlugin<Types>;
    }
  }
}
